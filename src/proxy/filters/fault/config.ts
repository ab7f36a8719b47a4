// envoy.extensions.filters.http.fault.v3.HTTPFault, parsed and compiled once: the listener-level typed_config and
// every route's typed_per_filter_config entry (Istio writes a VirtualService's fault there) become the same
// FaultSettings. Every problem names its field path (relative to the typed_config) and what was expected.

import { ParseContext, describe } from "../../../api/xds/parse/context.ts";
import { Fields } from "../../../api/xds/parse/fields.ts";
import { readHeaderMatcher } from "../../../api/xds/parse/matchers.ts";
import { fail, ok, type Result } from "../../../api/result.ts";
import { CompiledHeaderMatcher, regexMessage } from "../../router/route-match.ts";
import { readFractionalPercent, type FractionalPercent } from "./percentage.ts";

export const FAULT_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";

export interface DelaySettings {
  /** fixed_delay, or header_delay (x-envoy-fault-delay-request gives the milliseconds). */
  readonly kind: "fixed" | "header";
  /** fixed_delay in milliseconds (> 0); 0 for header delays. */
  readonly fixedMs: number;
  readonly percentage: FractionalPercent;
}

export interface AbortSettings {
  /** http_status, grpc_status, or header_abort (x-envoy-fault-abort-request / -grpc-request give the status). */
  readonly kind: "http" | "grpc" | "header";
  /** http_status (200–599); 0 otherwise. */
  readonly httpStatus: number;
  /** grpc_status; -1 otherwise. */
  readonly grpcStatus: number;
  readonly percentage: FractionalPercent;
}

export interface FaultSettings {
  readonly delay: DelaySettings | undefined;
  readonly abort: AbortSettings | undefined;
  /** Inject only into requests whose route sends to this cluster; undefined: any. */
  readonly upstreamCluster: string | undefined;
  /** Every one must match the request (Envoy's HeaderUtility::matchHeaders). */
  readonly headers: readonly CompiledHeaderMatcher[];
  /** Inject only for these x-envoy-downstream-service-node values; undefined: any. */
  readonly downstreamNodes: ReadonlySet<string> | undefined;
  /** At most this many faults at once (delays waiting, aborts being sent); Infinity when unset. */
  readonly maxActiveFaults: number;
  /** No per-x-envoy-downstream-service-cluster counters. */
  readonly disableDownstreamClusterStats: boolean;
}

const HTTP_FAULT_SPEC = {
  handled: [
    "delay",
    "abort",
    "upstream_cluster",
    "headers",
    "downstream_nodes",
    "max_active_faults",
    "disable_downstream_cluster_stats",
  ],
  // Runtime overrides: Trellis has no runtime, so the configured values always apply (Envoy's behaviour when the
  // keys are absent from the runtime). filter_metadata feeds dynamic metadata, which Trellis does not have.
  ignored: [
    "delay_percent_runtime",
    "abort_percent_runtime",
    "delay_duration_runtime",
    "abort_http_status_runtime",
    "abort_grpc_status_runtime",
    "max_active_faults_runtime",
    "response_rate_limit_percent_runtime",
    "filter_metadata",
  ],
  // Throttling response bodies is not built; refusing keeps a config that asks for it from silently doing less.
  unsupported: ["response_rate_limit"],
} as const;

const DELAY_SPEC = { handled: ["fixed_delay", "header_delay", "percentage"] } as const;
const ABORT_SPEC = { handled: ["http_status", "grpc_status", "header_abort", "percentage"] } as const;
const EMPTY_SPEC = { handled: [] } as const;

/** Parses one HTTPFault (typed_config or typed_per_filter_config entry); errors are "<field path>: <expected>". */
export function parseFaultConfig(raw: Record<string, unknown>): Result<FaultSettings, string[]> {
  const ctx = new ParseContext();
  const fields = Fields.open(ctx, raw, "", HTTP_FAULT_SPEC);
  const delay = fields.has("delay") ? readDelay(fields.message("delay", DELAY_SPEC)) : undefined;
  const abort = fields.has("abort") ? readAbort(fields.message("abort", ABORT_SPEC)) : undefined;
  const upstreamCluster = fields.string("upstream_cluster");
  const headers: CompiledHeaderMatcher[] = [];
  for (const item of fields.list("headers")) {
    const matcher = readHeaderMatcher(ctx, item);
    try {
      headers.push(new CompiledHeaderMatcher(matcher));
    } catch (err) {
      ctx.report(item.path, regexMessage(matcher.match.kind === "safe_regex" ? matcher.match.regex : "", err));
    }
  }
  const nodes = fields.stringList("downstream_nodes");
  const maxActive = fields.optionalInteger("max_active_faults");
  const settings: FaultSettings = {
    delay,
    abort,
    upstreamCluster: upstreamCluster === "" ? undefined : upstreamCluster,
    headers,
    downstreamNodes: nodes.length === 0 ? undefined : new Set(nodes),
    maxActiveFaults: maxActive ?? Infinity,
    disableDownstreamClusterStats: fields.bool("disable_downstream_cluster_stats", false),
  };
  if (ctx.failed) return fail(ctx.issues.map((i) => `${i.path || "(root)"}: ${i.message}`));
  return ok(settings);
}

function readDelay(fields: Fields): DelaySettings {
  const kind = fields.oneOf(["fixed_delay", "header_delay"], true);
  const percentage = readFractionalPercent(fields, "percentage");
  let fixedMs = 0;
  if (kind === "fixed_delay") {
    fixedMs = fields.durationMs("fixed_delay") ?? 1;
    if (fixedMs <= 0) fields.report("fixed_delay", `expected a duration above 0, got ${describe(fields.raw(kind))}`);
  } else if (kind === "header_delay") fields.message("header_delay", EMPTY_SPEC);
  return { kind: kind === "header_delay" ? "header" : "fixed", fixedMs, percentage };
}

function readAbort(fields: Fields): AbortSettings {
  const kind = fields.oneOf(["http_status", "grpc_status", "header_abort"], true);
  const percentage = readFractionalPercent(fields, "percentage");
  switch (kind) {
    case "http_status":
      // Envoy's validation: [200, 600).
      return { kind: "http", httpStatus: fields.integer("http_status", 500, 200, 599), grpcStatus: -1, percentage };
    case "grpc_status":
      return { kind: "grpc", httpStatus: 0, grpcStatus: fields.integer("grpc_status", 2), percentage };
    default:
      if (kind === "header_abort") fields.message("header_abort", EMPTY_SPEC);
      return { kind: "header", httpStatus: 0, grpcStatus: -1, percentage };
  }
}
