// envoy.filters.http.compressor at run time, with Envoy's rules (compressor_filter.cc):
// - the request's Accept-Encoding must accept the library's encoding: named with q > 0 (header_compressor_used), or
//   "*" with q > 0 and the encoding not refused by name (header_wildcard); identity preferred by a higher q
//   (header_identity), anything else (header_not_valid), no header at all (no_accept_header): not compressed.
//   remove_accept_encoding_header takes the header off before the upstream sees it;
// - the response is compressible when compression is enabled, it is not a HEAD answer or a 1xx/204/304, its
//   content-length (when it has one) is at least min_content_length (content_length_too_small), its content type
//   (without parameters) is in the list (none: allowed), Cache-Control has no no-transform, it has no
//   Content-Encoding yet, and no ETag when disable_on_etag_header;
// - a compressible response gets `Vary: Accept-Encoding` even when this request did not accept the encoding;
//   compressed, it loses Content-Length (HTTP/1.1 goes chunked), gets Content-Encoding, and a strong ETag becomes
//   weak (W/"…");
// - the body is compressed as it streams, flushed at every piece (a stream of events stays a stream), with
//   back-pressure both ways: a congested client pauses the compressor, a full compressor pauses the upstream.
// Stats as Envoy's: <stat_prefix>compressor.<library name>.<gzip|brotli>.{compressed, not_compressed, …}.

import zlib from "node:zlib";
import type { Counter, Labels } from "../../../telemetry/stats.ts";
import type { FilterContext } from "../../http/filters.ts";
import type { Exchange, Handler, Layer } from "../../http/exchange.ts";
import { HeadEditingExchange } from "../../http/head-editing-exchange.ts";
import type { Headers } from "../../http/headers.ts";
import { FILTER_DISABLED } from "../../router/compiled-route.ts";
import type { CompressorConfig, CompressorPerRoute } from "./config.ts";

export interface CompressorStats {
  compressed: Counter;
  notCompressed: Counter;
  noAcceptHeader: Counter;
  headerIdentity: Counter;
  headerCompressorUsed: Counter;
  headerWildcard: Counter;
  headerNotValid: Counter;
  totalUncompressedBytes: Counter;
  totalCompressedBytes: Counter;
  contentLengthTooSmall: Counter;
  notCompressedEtag: Counter;
}

function createStats(context: FilterContext, config: CompressorConfig): CompressorStats {
  const labels: Labels = {
    envoy_http_conn_manager_prefix: context.statPrefix,
    envoy_compressor_name: config.library.name,
    envoy_compressor_library: config.library.statPrefix,
  };
  const c = (name: string, help: string): Counter =>
    context.store.counter(`envoy_http_compressor_${name}`, help, labels);
  return {
    compressed: c("compressed", "Requests compressed"),
    notCompressed: c("not_compressed", "Requests not compressed"),
    noAcceptHeader: c("no_accept_header", "Requests with no Accept-Encoding header"),
    headerIdentity: c("header_identity", "Requests preferring identity in Accept-Encoding"),
    headerCompressorUsed: c("header_compressor_used", "Requests naming this compressor's encoding"),
    headerWildcard: c("header_wildcard", "Requests accepting any encoding (*)"),
    headerNotValid: c("header_not_valid", "Requests whose Accept-Encoding does not accept this encoding"),
    totalUncompressedBytes: c("total_uncompressed_bytes", "Bytes before compression"),
    totalCompressedBytes: c("total_compressed_bytes", "Bytes after compression"),
    contentLengthTooSmall: c("content_length_too_small", "Responses shorter than min_content_length"),
    notCompressedEtag: c("not_compressed_etag", "Responses not compressed because of an ETag"),
  };
}

/** The q-value of each coding in an Accept-Encoding value (lower case). */
function qValues(header: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of header.split(",")) {
    const [coding, ...params] = part.split(";");
    const name = coding!.trim().toLowerCase();
    if (name === "") continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split("=");
      if (k!.trim().toLowerCase() === "q") {
        const n = Number((v ?? "").trim());
        q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
      }
    }
    out.set(name, q);
  }
  return out;
}

/** Whether the request accepts `encoding`, counting why (Envoy's chooseEncoding for one compressor). */
export function acceptsEncoding(header: string | undefined, encoding: string, stats?: CompressorStats): boolean {
  if (header === undefined) {
    stats?.noAcceptHeader.inc();
    return false;
  }
  const q = qValues(header);
  const named = q.get(encoding);
  const wildcard = q.get("*");
  const identity = q.get("identity");
  const ours = named ?? wildcard ?? 0;
  if (ours > 0 && (identity === undefined || identity <= ours)) {
    (named !== undefined ? stats?.headerCompressorUsed : stats?.headerWildcard)?.inc();
    return true;
  }
  if (identity !== undefined && identity > 0) stats?.headerIdentity.inc();
  else stats?.headerNotValid.inc();
  return false;
}

function noTransform(cacheControl: string | undefined): boolean {
  return cacheControl !== undefined && /(^|,)\s*no-transform\s*(,|$)/i.test(cacheControl);
}

export function createCompressorLayer(config: CompressorConfig, context: FilterContext): Layer {
  const stats = createStats(context, config);
  const name = context.filterName;
  return (next: Handler): Handler =>
    (ex) => {
      if (!config.enabled) return next(ex);
      // A route (or its virtual host) may turn the filter off, or override remove_accept_encoding_header.
      const route = context.routeOf(ex);
      const own = route.kind === "miss" ? undefined : route.perFilterConfig(name);
      if (own === FILTER_DISABLED) return next(ex);
      const perRoute = own as CompressorPerRoute | undefined;
      if (perRoute?.disabled === true) return next(ex);
      const accepted = acceptsEncoding(ex.headers.get("accept-encoding"), config.library.encoding, stats);
      if (perRoute?.removeAcceptEncodingHeader ?? config.removeAcceptEncodingHeader)
        ex.headers.remove("accept-encoding");
      next(new CompressingExchange(ex, config, stats, accepted));
    };
}

/** The exchange as the rest of the chain sees it: the response is compressed on its way out when it may be. */
class CompressingExchange extends HeadEditingExchange {
  private readonly inner: Exchange["response"];
  private z: zlib.Gzip | zlib.BrotliCompress | undefined;
  private drainCb: (() => void) | undefined;
  private abortCb: (() => void) | undefined;
  private trailers: Headers | undefined;
  private ended = false;

  constructor(
    ex: Exchange,
    private readonly config: CompressorConfig,
    private readonly stats: CompressorStats,
    private readonly accepted: boolean,
  ) {
    super(ex, noop);
    this.inner = ex.response;
  }

  override head(status: number, headers: Headers): void {
    const inner = this.inner;
    if (this.compressible(status, headers)) {
      // Even when this request did not accept the encoding: a cache in front must know the answer varies.
      const vary = headers.get("vary");
      if (vary === undefined) headers.set("vary", "Accept-Encoding");
      else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) headers.set("vary", `${vary}, Accept-Encoding`);
      if (this.accepted) {
        const etag = headers.get("etag");
        if (etag !== undefined && !etag.startsWith("W/")) headers.set("etag", `W/${etag}`);
        headers.remove("content-length");
        headers.set("content-encoding", this.config.library.encoding);
        this.stats.compressed.inc();
        this.start();
        inner.head(status, headers);
        return;
      }
    }
    this.stats.notCompressed.inc();
    inner.head(status, headers);
  }

  private compressible(status: number, headers: Headers): boolean {
    const config = this.config;
    if (this.method === "HEAD" || status < 200 || status === 204 || status === 304) return false;
    const length = headers.get("content-length");
    if (length !== undefined && Number(length) < config.minContentLength) {
      this.stats.contentLengthTooSmall.inc();
      return false;
    }
    const type = headers.get("content-type");
    if (type !== undefined && !config.contentTypes.has(type.split(";")[0]!.trim().toLowerCase())) return false;
    if (noTransform(headers.get("cache-control"))) return false;
    if (headers.has("content-encoding")) return false;
    if (config.disableOnEtagHeader && headers.has("etag")) {
      this.stats.notCompressedEtag.inc();
      return false;
    }
    return true;
  }

  private start(): void {
    const z = this.config.library.create();
    this.z = z;
    const inner = this.inner;
    z.on("data", (out: Buffer) => {
      this.stats.totalCompressedBytes.inc(out.length);
      if (!inner.data(out)) {
        // The client is congested: the compressor waits, and so (through write()'s answer) does the upstream.
        z.pause();
        inner.onDrain(() => z.resume());
      }
    });
    z.on("drain", () => {
      const cb = this.drainCb;
      this.drainCb = undefined;
      cb?.();
    });
    z.on("end", () => inner.end(this.trailers));
    z.on("error", () => {
      z.destroy();
      inner.reset();
    });
    // A client that leaves stops the compressor too.
    inner.onAbort(() => this.aborted());
  }

  private aborted(): void {
    this.z?.destroy();
    const cb = this.abortCb;
    this.abortCb = undefined;
    cb?.();
  }

  override data(chunk: Buffer): boolean {
    const z = this.z;
    if (z === undefined) return this.inner.data(chunk);
    if (this.ended || z.destroyed || chunk.length === 0) return true;
    this.stats.totalUncompressedBytes.inc(chunk.length);
    const room = z.write(chunk);
    // Each piece goes out as it comes (Envoy flushes per data frame): a slow stream stays a stream.
    z.flush(
      this.config.library.encoding === "br" ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH,
    );
    return room;
  }

  override onDrain(cb: () => void): void {
    if (this.z === undefined) return this.inner.onDrain(cb);
    this.drainCb = cb;
  }

  override end(trailers?: Headers): void {
    const z = this.z;
    if (z === undefined) return this.inner.end(trailers);
    if (this.ended) return;
    this.ended = true;
    this.trailers = trailers;
    z.end();
  }

  override reset(): void {
    this.z?.destroy();
    this.inner.reset();
  }

  override onAbort(cb: () => void): void {
    // Kept either way: once compressing, the sink's one abort callback is ours, and calls this one.
    this.abortCb = cb;
    if (this.z === undefined) this.inner.onAbort(cb);
  }
}

function noop(): void {}
