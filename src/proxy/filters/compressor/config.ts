// envoy.filters.http.compressor (envoy.extensions.filters.http.compressor.v3.Compressor): its configuration, with
// Envoy's defaults. Libraries: gzip (envoy.compression.gzip.compressor.v3.Gzip) and brotli
// (envoy.compression.brotli.compressor.v3.Brotli), both from node:zlib. zstd is refused: this Node's zlib has no
// zstd. The deprecated top-level fields (content_length, content_type, disable_on_etag_header,
// remove_accept_encoding_header, runtime_enabled) are read as Envoy still reads them, under
// response_direction_config's.

import zlib from "node:zlib";
import { describe, ParseContext } from "../../../api/xds/parse/context.ts";
import { Fields } from "../../../api/xds/parse/fields.ts";
import { readRuntimeFeatureFlag } from "../../../api/xds/parse/runtime-values.ts";
import { fail, ok, type Result } from "../../../api/result.ts";

export const COMPRESSOR_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor";
export const COMPRESSOR_PER_ROUTE_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.http.compressor.v3.CompressorPerRoute";
export const GZIP_TYPE_URL = "type.googleapis.com/envoy.compression.gzip.compressor.v3.Gzip";
export const BROTLI_TYPE_URL = "type.googleapis.com/envoy.compression.brotli.compressor.v3.Brotli";
export const ZSTD_TYPE_URL = "type.googleapis.com/envoy.extensions.compression.zstd.compressor.v3.Zstd";

/** Envoy's default content types (compressor_filter.cc). */
export const DEFAULT_CONTENT_TYPES: readonly string[] = [
  "text/html",
  "text/plain",
  "text/css",
  "application/javascript",
  "application/x-javascript",
  "text/javascript",
  "text/x-javascript",
  "text/ecmascript",
  "text/js",
  "text/jscript",
  "text/x-js",
  "application/ecmascript",
  "application/x-json",
  "application/xml",
  "application/json",
  "image/svg+xml",
  "text/xml",
  "application/xhtml+xml",
];

/** Envoy's default min_content_length. */
export const DEFAULT_MIN_CONTENT_LENGTH = 30;

export interface CompressorLibrary {
  /** The Content-Encoding token: "gzip" or "br". */
  encoding: "gzip" | "br";
  /** The stats' library prefix: "gzip" or "brotli". */
  statPrefix: "gzip" | "brotli";
  /** compressor_library.name (in the stat names). */
  name: string;
  /** A new compressor per response. */
  create(): zlib.Gzip | zlib.BrotliCompress;
}

export interface CompressorConfig {
  library: CompressorLibrary;
  enabled: boolean;
  minContentLength: number;
  /** Lower case, without parameters. */
  contentTypes: ReadonlySet<string>;
  disableOnEtagHeader: boolean;
  removeAcceptEncodingHeader: boolean;
}

const SPEC = {
  handled: [
    "@type",
    "compressor_library",
    "response_direction_config",
    "request_direction_config",
    "choose_first",
    "content_length",
    "content_type",
    "disable_on_etag_header",
    "remove_accept_encoding_header",
    "runtime_enabled",
  ],
} as const;
const LIBRARY_SPEC = { handled: ["name", "typed_config"] } as const;
const RESPONSE_SPEC = {
  handled: ["common_config", "disable_on_etag_header", "remove_accept_encoding_header"],
  unsupported: ["uncompressible_response_codes", "status_header_enabled"],
} as const;
const REQUEST_SPEC = { handled: ["common_config"] } as const;
const COMMON_SPEC = { handled: ["enabled", "min_content_length", "content_type"] } as const;
const GZIP_SPEC = {
  handled: ["@type", "memory_level", "compression_level", "compression_strategy", "window_bits", "chunk_size"],
} as const;
const BROTLI_SPEC = {
  handled: [
    "@type",
    "quality",
    "encoder_mode",
    "window_bits",
    "input_block_bits",
    "chunk_size",
    "disable_literal_context_modeling",
  ],
} as const;

const GZIP_LEVELS = [
  "DEFAULT_COMPRESSION",
  "BEST_SPEED",
  "COMPRESSION_LEVEL_1",
  "COMPRESSION_LEVEL_2",
  "COMPRESSION_LEVEL_3",
  "COMPRESSION_LEVEL_4",
  "COMPRESSION_LEVEL_5",
  "COMPRESSION_LEVEL_6",
  "COMPRESSION_LEVEL_7",
  "COMPRESSION_LEVEL_8",
  "COMPRESSION_LEVEL_9",
  "BEST_COMPRESSION",
] as const;
const GZIP_LEVEL_VALUE: Record<(typeof GZIP_LEVELS)[number], number> = {
  DEFAULT_COMPRESSION: 6,
  BEST_SPEED: 1,
  COMPRESSION_LEVEL_1: 1,
  COMPRESSION_LEVEL_2: 2,
  COMPRESSION_LEVEL_3: 3,
  COMPRESSION_LEVEL_4: 4,
  COMPRESSION_LEVEL_5: 5,
  COMPRESSION_LEVEL_6: 6,
  COMPRESSION_LEVEL_7: 7,
  COMPRESSION_LEVEL_8: 8,
  COMPRESSION_LEVEL_9: 9,
  BEST_COMPRESSION: 9,
};
const GZIP_STRATEGIES = ["DEFAULT_STRATEGY", "FILTERED", "HUFFMAN_ONLY", "RLE", "FIXED"] as const;
const GZIP_STRATEGY_VALUE: Record<(typeof GZIP_STRATEGIES)[number], number> = {
  DEFAULT_STRATEGY: zlib.constants.Z_DEFAULT_STRATEGY,
  FILTERED: zlib.constants.Z_FILTERED,
  HUFFMAN_ONLY: zlib.constants.Z_HUFFMAN_ONLY,
  RLE: zlib.constants.Z_RLE,
  FIXED: zlib.constants.Z_FIXED,
};
const BROTLI_MODES = ["DEFAULT", "GENERIC", "TEXT", "FONT"] as const;
const BROTLI_MODE_VALUE: Record<(typeof BROTLI_MODES)[number], number> = {
  DEFAULT: zlib.constants.BROTLI_MODE_GENERIC,
  GENERIC: zlib.constants.BROTLI_MODE_GENERIC,
  TEXT: zlib.constants.BROTLI_MODE_TEXT,
  FONT: zlib.constants.BROTLI_MODE_FONT,
};

export function parseCompressor(raw: Record<string, unknown>): Result<CompressorConfig, string[]> {
  const ctx = new ParseContext();
  const f = Fields.open(ctx, raw, "", SPEC);
  f.bool("choose_first", false);
  const library = f.requireField("compressor_library")
    ? readLibrary(f.message("compressor_library", LIBRARY_SPEC))
    : undefined;
  // The deprecated top-level fields first; response_direction_config's win where both are set.
  let enabled = readRuntimeFeatureFlag(f, "runtime_enabled", true);
  let minContentLength = f.integer("content_length", DEFAULT_MIN_CONTENT_LENGTH);
  let contentTypes = readContentTypes(f, "content_type");
  let disableOnEtagHeader = f.bool("disable_on_etag_header", false);
  let removeAcceptEncodingHeader = f.bool("remove_accept_encoding_header", false);
  if (f.has("response_direction_config")) {
    const response = f.message("response_direction_config", RESPONSE_SPEC);
    if (response.has("common_config")) {
      const common = response.message("common_config", COMMON_SPEC);
      enabled = readRuntimeFeatureFlag(common, "enabled", enabled);
      minContentLength = common.integer("min_content_length", minContentLength);
      contentTypes = readContentTypes(common, "content_type") ?? contentTypes;
    }
    disableOnEtagHeader = response.bool("disable_on_etag_header", disableOnEtagHeader);
    removeAcceptEncodingHeader = response.bool("remove_accept_encoding_header", removeAcceptEncodingHeader);
  }
  if (f.has("request_direction_config")) {
    // Request compression is off unless enabled (Envoy's default); turning it on is not supported yet.
    const request = f.message("request_direction_config", REQUEST_SPEC);
    const common = request.has("common_config") ? request.message("common_config", COMMON_SPEC) : undefined;
    if (common !== undefined && readRuntimeFeatureFlag(common, "enabled", false))
      common.report("enabled", "compressing request bodies is not supported yet (responses are compressed)");
  }
  if (ctx.issues.length > 0 || library === undefined)
    return fail(ctx.issues.map((i) => `${i.path || "(root)"}: ${i.message}`));
  return ok({
    library,
    enabled,
    minContentLength,
    contentTypes: new Set(contentTypes ?? DEFAULT_CONTENT_TYPES),
    disableOnEtagHeader,
    removeAcceptEncodingHeader,
  });
}

function readContentTypes(f: Fields, name: string): string[] | undefined {
  if (!f.has(name)) return undefined;
  const out: string[] = [];
  for (const item of f.list(name)) {
    if (typeof item.value === "string" && item.value !== "") out.push(item.value.toLowerCase().split(";")[0]!.trim());
    else f.ctx.report(item.path, `expected a content type, got ${describe(item.value)}`);
  }
  return out.length === 0 ? undefined : out;
}

function readLibrary(lib: Fields): CompressorLibrary | undefined {
  const name = lib.requiredString("name");
  if (!lib.requireField("typed_config")) return undefined;
  const typed = lib.raw("typed_config") as Record<string, unknown> | undefined;
  const typeUrl = typed?.["@type"];
  const at = lib.at("typed_config");
  if (typeUrl === GZIP_TYPE_URL) {
    const g = Fields.open(lib.ctx, typed, at, GZIP_SPEC);
    const memLevel = g.integer("memory_level", 5, 1, 9);
    const level = GZIP_LEVEL_VALUE[g.enumValue("compression_level", GZIP_LEVELS, "DEFAULT_COMPRESSION")];
    const strategy = GZIP_STRATEGY_VALUE[g.enumValue("compression_strategy", GZIP_STRATEGIES, "DEFAULT_STRATEGY")];
    // Envoy's window_bits (9–15, default 12) is zlib's, with gzip framing added by Envoy itself.
    const windowBits = g.integer("window_bits", 12, 9, 15);
    const chunkSize = g.integer("chunk_size", 4096, 4096, 65536);
    return {
      encoding: "gzip",
      statPrefix: "gzip",
      name,
      create: () => zlib.createGzip({ level, memLevel, strategy, windowBits, chunkSize }),
    };
  }
  if (typeUrl === BROTLI_TYPE_URL) {
    const b = Fields.open(lib.ctx, typed, at, BROTLI_SPEC);
    const quality = b.integer("quality", 3, 0, 11);
    const mode = BROTLI_MODE_VALUE[b.enumValue("encoder_mode", BROTLI_MODES, "DEFAULT")];
    const windowBits = b.integer("window_bits", 18, 10, 24);
    const inputBlockBits = b.integer("input_block_bits", 24, 16, 24);
    const chunkSize = b.integer("chunk_size", 4096, 4096, 65536);
    const noLiteral = b.bool("disable_literal_context_modeling", false);
    const c = zlib.constants;
    return {
      encoding: "br",
      statPrefix: "brotli",
      name,
      create: () =>
        zlib.createBrotliCompress({
          chunkSize,
          params: {
            [c.BROTLI_PARAM_QUALITY]: quality,
            [c.BROTLI_PARAM_MODE]: mode,
            [c.BROTLI_PARAM_LGWIN]: windowBits,
            [c.BROTLI_PARAM_LGBLOCK]: inputBlockBits,
            [c.BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING]: noLiteral ? 1 : 0,
          },
        }),
    };
  }
  if (typeUrl === ZSTD_TYPE_URL || (typeof typeUrl === "string" && typeUrl.includes("zstd")))
    lib.report(
      "typed_config",
      "zstd is not available: this Node's zlib has no zstd (Node 22.15 / 23.8 add it); use gzip or brotli",
    );
  else
    lib.report(
      "typed_config",
      `unsupported compressor library ${describe(typeUrl)}; supported: ${GZIP_TYPE_URL}, ${BROTLI_TYPE_URL}`,
    );
  return undefined;
}

/** CompressorPerRoute: off on this route, or remove_accept_encoding_header overridden. */
export type CompressorPerRoute =
  { disabled: true } | { disabled: false; removeAcceptEncodingHeader: boolean | undefined };

const PER_ROUTE_SPEC = { handled: ["@type", "disabled", "overrides"] } as const;
const OVERRIDES_SPEC = { handled: ["response_direction_config"] } as const;
const RESPONSE_OVERRIDES_SPEC = { handled: ["remove_accept_encoding_header"] } as const;

export function parseCompressorPerRoute(raw: Record<string, unknown>): Result<CompressorPerRoute, string[]> {
  const ctx = new ParseContext();
  const f = Fields.open(ctx, raw, "", PER_ROUTE_SPEC);
  const which = f.oneOf(["disabled", "overrides"], true);
  let out: CompressorPerRoute = { disabled: false, removeAcceptEncodingHeader: undefined };
  if (which === "disabled") {
    if (f.bool("disabled", false)) out = { disabled: true };
    else f.report("disabled", "only true is meaningful (Envoy requires it)");
  } else if (which === "overrides") {
    const o = f.message("overrides", OVERRIDES_SPEC);
    if (o.has("response_direction_config")) {
      const r = o.message("response_direction_config", RESPONSE_OVERRIDES_SPEC);
      if (r.has("remove_accept_encoding_header"))
        out = { disabled: false, removeAcceptEncodingHeader: r.bool("remove_accept_encoding_header", false) };
    }
  }
  if (ctx.issues.length > 0) return fail(ctx.issues.map((i) => `${i.path || "(root)"}: ${i.message}`));
  return ok(out);
}
