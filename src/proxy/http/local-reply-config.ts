// The connection manager's local_reply_config (Envoy's LocalReplyConfig): how the proxy's own replies look. Each
// local reply (never an upstream's response, as in Envoy) is matched against the mappers in order; the first whose
// filter matches may change the status, replace the body, add headers and bring its own body format. Then the body
// format (the mapper's override, else body_format) rewrites the body with the access log's operators, where
// %LOCAL_REPLY_BODY% is the body so far and %RESPONSE_CODE% the final status, and sets the content type (text/plain
// for text, application/json for json, or content_type). Parsed and compiled when configuration arrives; a
// connection manager without it pays nothing.

import { hostname } from "node:os";
import type { Clock } from "../../api/clock.ts";
import { ConfigError, type ConfigIssue } from "../../api/errors.ts";
import { describe, ParseContext } from "../../api/xds/parse/context.ts";
import { Fields, type Item } from "../../api/xds/parse/fields.ts";
import { readHeadersToAdd } from "../../api/xds/parse/headers.ts";
import { readHeaderMatcher } from "../../api/xds/parse/matchers.ts";
import {
  createFormatter,
  parseSubstitutionFormat,
  type AccessLogFormatConfig,
  type AccessLogFormatter,
} from "../../telemetry/access-log.ts";
import { exchangeEntry } from "./access-logger.ts";
import type { Exchange } from "./exchange.ts";
import type { Headers } from "./headers.ts";
import { HeaderEditLevel } from "../router/header-edits.ts";
import { IssueSink } from "../router/issues.ts";
import { CompiledHeaderMatcher } from "../router/route-match.ts";
import { routeContextOf } from "./route-context.ts";

type Filter = (ex: Exchange, status: number) => boolean;

interface BodyFormat {
  format: AccessLogFormatter;
  contentType: string;
}

interface Mapper {
  filter: Filter;
  status: number | undefined;
  body: string | undefined;
  headers: HeaderEditLevel | undefined;
  bodyFormat: BodyFormat | undefined;
}

/** What a local reply becomes. */
export interface RewrittenReply {
  status: number;
  body: string;
  /** undefined: the reply's own (text/plain). */
  contentType: string | undefined;
  /** The matched mapper's headers_to_add, applied to the reply's headers last. */
  addHeaders(headers: Headers): void;
}

const CONFIG_SPEC = { handled: ["mappers", "body_format"] } as const;
const MAPPER_SPEC = {
  handled: ["filter", "status_code", "body", "body_format_override", "headers_to_add"],
} as const;
const FILTER_SPEC = {
  handled: [
    "status_code_filter",
    "header_filter",
    "response_flag_filter",
    "and_filter",
    "or_filter",
    "not_health_check_filter",
  ],
  unsupported: [
    "duration_filter",
    "traceable_filter",
    "runtime_filter",
    "grpc_status_filter",
    "extension_filter",
    "metadata_filter",
    "log_type_filter",
  ],
} as const;
const STATUS_FILTER_SPEC = { handled: ["comparison"] } as const;
const COMPARISON_SPEC = { handled: ["op", "value"] } as const;
const RUNTIME_UINT32_SPEC = { handled: ["default_value"], ignored: ["runtime_key"] } as const;
const HEADER_FILTER_SPEC = { handled: ["header"] } as const;
const FLAG_FILTER_SPEC = { handled: ["flags"] } as const;
const FILTER_LIST_SPEC = { handled: ["filters"] } as const;
const EMPTY_SPEC = { handled: [] } as const;
const DATA_SOURCE_SPEC = {
  handled: ["inline_string", "inline_bytes"],
  unsupported: ["filename", "environment_variable"],
} as const;

/** Envoy's response flags (what response_flag_filter may name). */
const FLAGS = new Set([
  "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC", "URX", "SI", "IH",
  "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR", "UDO",
]); // prettier-ignore

export class LocalReplyConfig {
  private constructor(
    private readonly mappers: readonly Mapper[],
    private readonly bodyFormat: BodyFormat | undefined,
    private readonly clock: Clock,
  ) {}

  /** Parses and compiles `raw` (local_reply_config); throws a ConfigError naming every problem under `source`. */
  static compile(raw: Record<string, unknown>, source: string, clock: Clock): LocalReplyConfig {
    const ctx = new ParseContext();
    const sink = new IssueSink();
    const formatIssues: ConfigIssue[] = [];
    const root = Fields.open(ctx, raw, "local_reply_config", CONFIG_SPEC);
    const env = { hostname: hostname() };
    const mappers = root.list("mappers").map((item): Mapper => {
      const m = Fields.open(ctx, item.value, item.path, MAPPER_SPEC);
      const filter = m.requireField("filter") ? readFilter(ctx, m.raw("filter"), m.at("filter")) : () => false;
      const status = m.has("status_code") ? m.integer("status_code", 0, 200, 599) : undefined;
      const body = m.has("body") ? readDataSource(m.message("body", DATA_SOURCE_SPEC)) : undefined;
      const headers = HeaderEditLevel.compile(readHeadersToAdd(m, "headers_to_add"), [], env, sink, {
        add: m.at("headers_to_add"),
        remove: m.at("headers_to_add"),
      });
      const bodyFormat = m.has("body_format_override")
        ? readBodyFormat(m.raw("body_format_override"), m.at("body_format_override"), formatIssues)
        : undefined;
      return { filter, status, body, headers, bodyFormat };
    });
    const bodyFormat = root.has("body_format")
      ? readBodyFormat(root.raw("body_format"), root.at("body_format"), formatIssues)
      : undefined;
    const issues = [...ctx.issues, ...sink.issues, ...formatIssues];
    if (issues.length > 0) throw new ConfigError(source, issues);
    return new LocalReplyConfig(mappers, bodyFormat, clock);
  }

  /** What the local reply `status` / `body` to `ex` becomes (ex.info has its flags and details already). */
  rewrite(ex: Exchange, status: number, body: string): RewrittenReply {
    let mapper: Mapper | undefined;
    for (const m of this.mappers)
      if (m.filter(ex, status)) {
        mapper = m;
        break;
      }
    let outStatus = status;
    let outBody = body;
    if (mapper?.status !== undefined) outStatus = mapper.status;
    if (mapper?.body !== undefined) outBody = mapper.body;
    const format = mapper?.bodyFormat ?? this.bodyFormat;
    let contentType: string | undefined;
    if (format !== undefined) {
      ex.info.responseCode = outStatus;
      const entry = exchangeEntry(ex, this.clock);
      entry.localReplyBody = outBody;
      outBody = format.format(entry);
      contentType = format.contentType;
    }
    const headers = mapper?.headers;
    return {
      status: outStatus,
      body: outBody,
      contentType,
      addHeaders: (h) => headers?.apply(h, true, ex, routeContextOf(ex, this.clock), ex.info.clusterName),
    };
  }
}

function readDataSource(f: Fields): string {
  if (f.has("inline_string")) return f.string("inline_string") ?? "";
  if (f.has("inline_bytes")) return Buffer.from(f.string("inline_bytes") ?? "", "base64").toString("utf8");
  f.report("inline_string", "required: the body (inline_string or inline_bytes)");
  return "";
}

function readBodyFormat(raw: unknown, path: string, issues: ConfigIssue[]): BodyFormat | undefined {
  const parsed: AccessLogFormatConfig | undefined = parseSubstitutionFormat(raw, path, issues);
  if (parsed === undefined) return undefined;
  const r = raw as Record<string, unknown>;
  const declared = r.content_type ?? r.contentType;
  if (declared !== undefined && typeof declared !== "string") {
    issues.push({ path: `${path}.content_type`, message: `expected a string, got ${describe(declared)}` });
    return undefined;
  }
  const contentType =
    typeof declared === "string" && declared !== ""
      ? declared
      : parsed.kind === "json"
        ? "application/json"
        : "text/plain";
  return { format: createFormatter(parsed), contentType };
}

function readFilter(ctx: ParseContext, raw: unknown, path: string): Filter {
  const f = Fields.open(ctx, raw, path, FILTER_SPEC);
  const kind = f.oneOf(
    [
      "status_code_filter",
      "header_filter",
      "response_flag_filter",
      "and_filter",
      "or_filter",
      "not_health_check_filter",
    ],
    false,
  );
  // None set: an empty filter is an error; an unsupported one was reported by name already.
  if (kind === undefined && raw !== null && typeof raw === "object" && Object.keys(raw).length === 0)
    f.report("status_code_filter", "a filter is required (status_code_filter, header_filter, response_flag_filter…)");
  switch (kind) {
    case "status_code_filter": {
      const comparison = f.message("status_code_filter", STATUS_FILTER_SPEC).message("comparison", COMPARISON_SPEC);
      const op = comparison.enumValue("op", ["EQ", "GE", "LE"] as const, "EQ");
      const value = comparison.has("value")
        ? comparison.message("value", RUNTIME_UINT32_SPEC).integer("default_value", 0)
        : 0;
      if (op === "EQ") return (_ex, status) => status === value;
      if (op === "GE") return (_ex, status) => status >= value;
      return (_ex, status) => status <= value;
    }
    case "header_filter": {
      const h = f.message("header_filter", HEADER_FILTER_SPEC);
      if (!h.requireField("header")) return () => false;
      const matcher = new CompiledHeaderMatcher(
        readHeaderMatcher(ctx, { value: h.raw("header"), path: h.at("header") }),
      );
      return (ex) => matcher.matches(ex);
    }
    case "response_flag_filter": {
      const items = f.message("response_flag_filter", FLAG_FILTER_SPEC).list("flags");
      const flags: string[] = [];
      for (const item of items) {
        if (typeof item.value === "string" && FLAGS.has(item.value)) flags.push(item.value);
        else
          ctx.report(
            item.path,
            `expected one of Envoy's response flags (${[...FLAGS].join(", ")}), got ${describe(item.value)}`,
          );
      }
      // No flags listed: any flag at all.
      if (flags.length === 0) return (ex) => ex.info.responseFlags !== "";
      return (ex) => ex.info.responseFlags.split(",").some((flag) => flags.includes(flag));
    }
    case "and_filter":
    case "or_filter": {
      const items: Item[] = f.message(kind, FILTER_LIST_SPEC).list("filters");
      if (items.length < 2) ctx.report(f.at(kind), "expected at least two filters");
      const filters = items.map((item) => readFilter(ctx, item.value, item.path));
      return kind === "and_filter"
        ? (ex, status) => filters.every((x) => x(ex, status))
        : (ex, status) => filters.some((x) => x(ex, status));
    }
    case "not_health_check_filter":
      f.message("not_health_check_filter", EMPTY_SPEC);
      // Envoy's health check filter marks health checks; Trellis has none, so no request is one.
      return () => true;
    default:
      return () => false;
  }
}
