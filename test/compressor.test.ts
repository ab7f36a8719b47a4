// envoy.filters.http.compressor end to end over HTTP/1.1 and HTTP/2: Accept-Encoding negotiation with q-values,
// the response rules (length, content type, Content-Encoding, Cache-Control no-transform, HEAD/204, ETag), Vary,
// streaming (each piece flushed), back-pressure, stats, and the configurations refused.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { randomBytes } from "node:crypto";
import zlib from "node:zlib";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { Proxy } from "../src/proxy/server.ts";
import { allDomains, bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { waitFor } from "./support/wait.ts";

const GZIP: Raw = {
  name: "text_optimized",
  typed_config: {
    "@type": "type.googleapis.com/envoy.compression.gzip.compressor.v3.Gzip",
    compression_level: "BEST_SPEED",
  },
};
const BROTLI: Raw = {
  name: "brotli_lib",
  typed_config: { "@type": "type.googleapis.com/envoy.compression.brotli.compressor.v3.Brotli", quality: 4 },
};

function compressorFilter(library: Raw, extra: Raw = {}): Raw {
  return {
    name: "envoy.filters.http.compressor",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor",
      compressor_library: library,
      ...extra,
    },
  };
}

const JSON_BODY = JSON.stringify({ items: Array.from({ length: 60 }, (_, i) => ({ id: i, name: `item-${i}` })) });

/** The upstream: the path says what to answer. */
function respond(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? "/";
  const json = { "content-type": "application/json; charset=utf-8" };
  const len = { "content-length": String(Buffer.byteLength(JSON_BODY)) };
  if (url === "/json") res.writeHead(200, { ...json, ...len, etag: '"v1"' }).end(JSON_BODY);
  else if (url === "/small") res.writeHead(200, { ...json, "content-length": "12" }).end('{"a":"tiny"}');
  else if (url === "/png") res.writeHead(200, { "content-type": "image/png", ...len }).end(JSON_BODY);
  else if (url === "/encoded")
    res.writeHead(200, { ...json, ...len, "content-encoding": "identity-ish" }).end(JSON_BODY);
  else if (url === "/no-transform")
    res.writeHead(200, { ...json, ...len, "cache-control": "public, no-transform" }).end(JSON_BODY);
  else if (url === "/empty") res.writeHead(204).end();
  else if (url === "/vary") res.writeHead(200, { ...json, ...len, vary: "Origin" }).end(JSON_BODY);
  else if (url === "/echo-accept")
    res.writeHead(200, json).end(JSON.stringify({ ae: req.headers["accept-encoding"] ?? null, pad: JSON_BODY }));
  else res.writeHead(200, json).end(JSON_BODY);
}

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: Buffer;
}

function get1(port: number, path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Got> {
  return new Promise((resolve, reject) => {
    http
      .request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, raw: Buffer.concat(chunks) }));
      })
      .on("error", reject)
      .end();
  });
}

function get2(
  session: http2.ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<Got> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ":path": path, ":method": method, ...headers });
    let status = 0;
    let h: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    s.on("response", (r) => {
      status = Number(r[":status"]);
      h = r as Record<string, string | string[] | undefined>;
    });
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => resolve({ status, headers: h, raw: Buffer.concat(chunks) }));
    s.on("error", reject);
  });
}

function stat(p: RunningProxy, name: string, library = "gzip"): number {
  return (
    p.proxy.stats
      .toJSON()
      .find((s) => s.name === `envoy_http_compressor_${name}` && s.labels.envoy_compressor_library === library)
      ?.value ?? 0
  );
}

for (const protocol of ["HTTP/1.1", "HTTP/2"] as const) {
  describe(`compressor over ${protocol}`, () => {
    let upstream: Upstream;
    let proxy: RunningProxy;
    let session: http2.ClientHttp2Session | undefined;
    const get = (path: string, headers: Record<string, string> = {}, method = "GET"): Promise<Got> =>
      protocol === "HTTP/2" ? get2(session!, path, headers, method) : get1(proxy.port(), path, headers, method);

    before(async () => {
      upstream = await startEchoServer("app", respond);
      proxy = await startProxy(
        bootstrap(
          [
            httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
              http_filters: [compressorFilter(GZIP), { name: "envoy.filters.http.router" }],
            }),
          ],
          [staticCluster("app", [upstream.port])],
        ),
      );
      if (protocol === "HTTP/2") session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
    });
    after(async () => {
      session?.close();
      await proxy.close();
      await upstream.close();
    });

    test("gzip accepted: compressed, no content-length, Vary, a weak ETag; the body decompresses to the original", async () => {
      const r = await get("/json", { "accept-encoding": "br;q=0.5, gzip" });
      assert.equal(r.status, 200);
      assert.equal(r.headers["content-encoding"], "gzip");
      assert.equal(r.headers["content-length"], undefined);
      assert.equal(r.headers.vary, "Accept-Encoding");
      assert.equal(r.headers.etag, 'W/"v1"');
      assert.equal(zlib.gunzipSync(r.raw).toString(), JSON_BODY);
      assert.ok(r.raw.length < Buffer.byteLength(JSON_BODY));
    });

    test("Accept-Encoding negotiation: q-values, wildcard, identity, none", async () => {
      const cases: [Record<string, string>, boolean][] = [
        [{}, false],
        [{ "accept-encoding": "gzip;q=0" }, false],
        [{ "accept-encoding": "*" }, true],
        [{ "accept-encoding": "gzip;q=0, *" }, false],
        [{ "accept-encoding": "identity;q=1, gzip;q=0.5" }, false],
        [{ "accept-encoding": "identity;q=0.2, GZIP;q=0.8" }, true],
        [{ "accept-encoding": "deflate, br" }, false],
      ];
      for (const [headers, compressed] of cases) {
        const r = await get("/json", headers);
        assert.equal(r.headers["content-encoding"], compressed ? "gzip" : undefined, JSON.stringify(headers));
        // Compressible either way: a cache must know the answer varies.
        assert.equal(r.headers.vary, "Accept-Encoding", JSON.stringify(headers));
        const body = compressed ? zlib.gunzipSync(r.raw).toString() : r.raw.toString();
        assert.equal(body, JSON_BODY);
      }
    });

    test("not compressed: too small, a type not listed, already encoded, no-transform, HEAD, 204", async () => {
      const ae = { "accept-encoding": "gzip" };
      for (const path of ["/small", "/png", "/encoded", "/no-transform"]) {
        const r = await get(path, ae);
        assert.equal(r.headers["content-encoding"] === "gzip", false, path);
        assert.equal(r.headers.vary, undefined, path);
      }
      const head = await get("/json", ae, "HEAD");
      assert.equal(head.headers["content-encoding"], undefined);
      assert.equal(head.raw.length, 0);
      const empty = await get("/empty", ae);
      assert.equal(empty.status, 204);
      assert.equal(empty.headers["content-encoding"], undefined);
    });

    test("an upstream Vary is kept and extended; chunked responses (no length) are compressed", async () => {
      const vary = await get("/vary", { "accept-encoding": "gzip" });
      assert.equal(vary.headers.vary, "Origin, Accept-Encoding");
      const chunked = await get("/chunked", { "accept-encoding": "gzip" });
      assert.equal(chunked.headers["content-encoding"], "gzip");
      assert.equal(zlib.gunzipSync(chunked.raw).toString(), JSON_BODY);
    });
  });
}

describe("compressor: brotli, options, streaming, back-pressure, stats", () => {
  test("brotli; remove_accept_encoding_header; disable_on_etag_header; stats under the library's name", async () => {
    const upstream = await startEchoServer("app", respond);
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
            http_filters: [
              compressorFilter(BROTLI, {
                response_direction_config: { remove_accept_encoding_header: true, disable_on_etag_header: true },
              }),
            ],
          }),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      const r = await get1(proxy.port(), "/chunked", { "accept-encoding": "gzip, br" });
      assert.equal(r.headers["content-encoding"], "br");
      assert.equal(zlib.brotliDecompressSync(r.raw).toString(), JSON_BODY);
      // The upstream never saw Accept-Encoding.
      const echoed = await get1(proxy.port(), "/echo-accept", { "accept-encoding": "br" });
      assert.equal(JSON.parse(zlib.brotliDecompressSync(echoed.raw).toString()).ae, null);
      // An ETag and disable_on_etag_header: left alone.
      const tagged = await get1(proxy.port(), "/json", { "accept-encoding": "br" });
      assert.equal(tagged.headers["content-encoding"], undefined);
      assert.equal(tagged.headers.etag, '"v1"');
      assert.equal(stat(proxy, "compressed", "brotli"), 2);
      assert.equal(stat(proxy, "not_compressed", "brotli"), 1);
      assert.equal(stat(proxy, "not_compressed_etag", "brotli"), 1);
      assert.equal(stat(proxy, "header_compressor_used", "brotli"), 3);
      assert.ok(stat(proxy, "total_uncompressed_bytes", "brotli") > stat(proxy, "total_compressed_bytes", "brotli"));
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("a stream stays a stream: each upstream piece reaches the client, decompressible, before the end", async () => {
    const writers: ((s: string | undefined) => void)[] = [];
    const upstream = await startEchoServer("app", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      writers.push((s) => (s === undefined ? res.end() : res.write(s)));
    });
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
            http_filters: [compressorFilter(GZIP)],
          }),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      let text = "";
      let ended = false;
      const gunzip = zlib.createGunzip();
      gunzip.on("data", (c: Buffer) => (text += c.toString()));
      const req = http.request(
        {
          host: "127.0.0.1",
          port: proxy.port(),
          path: "/events",
          headers: { "accept-encoding": "gzip" },
          agent: false,
        },
        (res) => {
          assert.equal(res.headers["content-encoding"], "gzip");
          res.pipe(gunzip);
          res.on("end", () => (ended = true));
        },
      );
      req.end();
      await waitFor(() => writers.length === 1);
      writers[0]!("data: one\n\n");
      await waitFor(() => text.includes("data: one"));
      writers[0]!("data: two\n\n");
      await waitFor(() => text.includes("data: two"));
      assert.equal(ended, false);
      writers[0]!(undefined);
      await waitFor(() => ended);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("back-pressure: a client that stops reading stalls the upstream; resumed, every byte arrives intact", async () => {
    const payload = randomBytes(24 * 1024 * 1024).toString("base64"); // text, but barely compressible
    let written = 0;
    let stalled = false;
    const upstream = await startEchoServer("app", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      const piece = 64 * 1024;
      const pump = (): void => {
        while (written < payload.length) {
          const ok = res.write(payload.slice(written, written + piece));
          written += piece;
          if (!ok) {
            stalled = true;
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
            http_filters: [compressorFilter(GZIP)],
          }),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      const gunzip = zlib.createGunzip();
      const out: Buffer[] = [];
      gunzip.on("data", (c: Buffer) => out.push(c));
      const done = new Promise<void>((r) => gunzip.on("end", () => r()));
      let response: http.IncomingMessage | undefined;
      http
        .request(
          { host: "127.0.0.1", port: proxy.port(), path: "/big", headers: { "accept-encoding": "gzip" }, agent: false },
          (res) => {
            response = res;
            res.pause();
          },
        )
        .end();
      await waitFor(() => response !== undefined && stalled);
      await new Promise((r) => setTimeout(r, 200));
      // The upstream is held back well before the whole body: nothing is buffered without bound.
      assert.ok(written < payload.length, `upstream wrote ${written} of ${payload.length}`);
      response!.pipe(gunzip);
      response!.resume();
      await done;
      assert.equal(Buffer.concat(out).toString(), payload);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("compressor per route", () => {
  test("CompressorPerRoute disabled, FilterConfig disabled, and an override of remove_accept_encoding_header", async () => {
    const upstream = await startEchoServer("app", respond);
    const perRoute = (config: Raw): Raw => ({ typed_per_filter_config: { "envoy.filters.http.compressor": config } });
    const PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.compressor.v3.CompressorPerRoute";
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "http",
            allDomains([
              {
                match: { prefix: "/off" },
                route: { cluster: "app", prefix_rewrite: "/json" },
                ...perRoute({ "@type": PER_ROUTE, disabled: true }),
              },
              {
                match: { prefix: "/fc-off" },
                route: { cluster: "app", prefix_rewrite: "/json" },
                ...perRoute({ "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", disabled: true }),
              },
              {
                match: { prefix: "/strip" },
                route: { cluster: "app", prefix_rewrite: "/echo-accept" },
                ...perRoute({
                  "@type": PER_ROUTE,
                  overrides: { response_direction_config: { remove_accept_encoding_header: true } },
                }),
              },
              { match: { prefix: "/" }, route: { cluster: "app" } },
            ]),
            { http_filters: [compressorFilter(GZIP)] },
          ),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      const ae = { "accept-encoding": "gzip" };
      for (const path of ["/off", "/fc-off"]) {
        const r = await get1(proxy.port(), path, ae);
        assert.equal(r.headers["content-encoding"], undefined, path);
        assert.equal(r.raw.toString(), JSON_BODY, path);
      }
      const on = await get1(proxy.port(), "/json", ae);
      assert.equal(on.headers["content-encoding"], "gzip");
      const stripped = await get1(proxy.port(), "/strip", ae);
      assert.equal(JSON.parse(zlib.gunzipSync(stripped.raw).toString()).ae, null);
      const kept = await get1(proxy.port(), "/echo-accept", ae);
      assert.equal(JSON.parse(zlib.gunzipSync(kept.raw).toString()).ae, "gzip");
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("compressor configuration", () => {
  const build =
    (filter: Raw): (() => unknown) =>
    () =>
      new Proxy(
        parseBootstrap(
          JSON.stringify(bootstrap([httpListener("http", allDomains([]), { http_filters: [filter] })], [])),
          "test",
        ),
        { log: () => {} },
      );

  test("zstd is refused with the reason; an unknown library and request compression too", () => {
    assert.throws(
      build(
        compressorFilter({
          name: "zstd",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd" },
        }),
      ),
      /compressor_library\.typed_config: zstd is not available: this Node's zlib has no zstd/,
    );
    assert.throws(
      build(compressorFilter({ name: "x", typed_config: { "@type": "type.googleapis.com/x.Deflate" } })),
      /unsupported compressor library "type\.googleapis\.com\/x\.Deflate"/,
    );
    assert.throws(
      build(
        compressorFilter(GZIP, {
          request_direction_config: { common_config: { enabled: { default_value: true, runtime_key: "k" } } },
        }),
      ),
      /request_direction_config\.common_config\.enabled: compressing request bodies is not supported yet/,
    );
  });
});
