// Envoy's admin /stats view: dotted names (`cluster.backend.upstream_rq_200: 5`). Our store keeps Prometheus names
// and labels (what Envoy produces after tag extraction), so this file runs Envoy's tag extraction backwards for the
// tags Trellis uses: a scope tag puts its value after the scope word, a response-code tag becomes a suffix.

import type { Counter, Gauge, Histogram, Labels, StatsStore } from "./stats.ts";
import { escapeLabelValue } from "./prometheus.ts";

/** Scope tag → the first word of the Prometheus name after `envoy_` (Envoy's `^cluster\.((.*?)\.)` and friends). */
const SCOPE_TAGS: readonly (readonly [tag: string, scope: string])[] = [
  ["envoy_cluster_name", "cluster"],
  ["envoy_http_conn_manager_prefix", "http"],
  ["envoy_listener_address", "listener"],
  ["envoy_tcp_prefix", "tcp"],
  ["envoy_local_network_ratelimit_prefix", "local_rate_limit"],
  ["envoy_dns_cache_name", "dns_cache"],
];

/** Tags whose value comes before the scope word (Envoy's `$.http_local_rate_limit.**`). */
const PREFIX_TAGS: readonly (readonly [tag: string, scope: string])[] = [
  ["envoy_local_http_ratelimit_prefix", "http_local_rate_limit"],
];

/** Sub-scopes that Envoy separates with a dot but Prometheus flattens with `_`. */
const SUB_SCOPES: readonly (readonly [flat: string, dotted: string])[] = [
  ["circuit_breakers_default_", "circuit_breakers.default."],
  ["circuit_breakers_high_", "circuit_breakers.high."],
  ["health_check_", "health_check."],
  ["outlier_detection_", "outlier_detection."],
  ["fault_", "fault."],
  ["ssl_versions_TLSv1_", "ssl.versions.TLSv1."],
  ["ssl_", "ssl."],
  ["server_ssl_socket_factory_", "server_ssl_socket_factory."],
  ["client_ssl_socket_factory_", "client_ssl_socket_factory."],
];

/** Tags whose value Envoy writes right after a sub-scope (`http.<prefix>.fault.<downstream cluster>.…`). */
const SUB_SCOPE_TAGS: readonly (readonly [tag: string, dotted: string])[] = [
  ["envoy_fault_downstream_cluster", "fault."],
];

/** The Envoy-style dotted name of one series, e.g. envoy_cluster_upstream_rq{code=200,cluster=x} → cluster.x.upstream_rq_200. */
export function envoyStatName(name: string, labels: Labels): string {
  const left: Record<string, string> = { ...labels };
  if (!name.startsWith("envoy_")) return name + bracedLabels(left);
  let rest = name.slice("envoy_".length);
  let prefix = "";
  for (const [tag, scope] of PREFIX_TAGS) {
    const value = left[tag];
    if (value !== undefined && rest.startsWith(scope + "_")) {
      prefix = `${value}.${scope}.`;
      rest = rest.slice(scope.length + 1);
      delete left[tag];
    }
  }
  for (const [tag, scope] of SCOPE_TAGS) {
    if (prefix !== "") break;
    const value = left[tag];
    if (value !== undefined && rest.startsWith(scope + "_")) {
      prefix = `${scope}.${value}.`;
      rest = rest.slice(scope.length + 1);
      delete left[tag];
      break;
    }
  }
  // Scopes with no tag (Envoy's `server.*`): the first word is the scope.
  if (prefix === "" && rest.startsWith("server_")) {
    prefix = "server.";
    rest = rest.slice("server_".length);
  }
  for (const [flat, dotted] of SUB_SCOPES) {
    if (rest.startsWith(flat)) {
      rest = dotted + rest.slice(flat.length);
      break;
    }
  }
  for (const [tag, dotted] of SUB_SCOPE_TAGS) {
    const value = left[tag];
    if (value !== undefined && rest.startsWith(dotted)) {
      rest = `${dotted}${value}.${rest.slice(dotted.length)}`;
      delete left[tag];
    }
  }
  if (left.envoy_response_code !== undefined) {
    rest += "_" + left.envoy_response_code;
    delete left.envoy_response_code;
  } else if (left.envoy_response_code_class !== undefined && rest.endsWith("_xx")) {
    rest = rest.slice(0, -2) + left.envoy_response_code_class + "xx";
    delete left.envoy_response_code_class;
  }
  return prefix + rest + bracedLabels(left);
}

function bracedLabels(labels: Record<string, string>): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return "{" + keys.map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`).join(",") + "}";
}

export interface EnvoyStatsOptions {
  /** Only stats whose dotted name matches (Envoy's ?filter=). */
  filter?: RegExp;
  /** Only stats ever counted (Envoy's ?usedonly). */
  usedOnly?: boolean;
}

interface Line {
  name: string;
  value: number;
}

interface HistogramLine {
  name: string;
  histogram: Histogram;
}

function collect(store: StatsStore, options: EnvoyStatsOptions): { values: Line[]; histograms: HistogramLine[] } {
  const values: Line[] = [];
  const histograms: HistogramLine[] = [];
  for (const family of store.sortedFamilies()) {
    for (const { labels, metric } of family.series.values()) {
      const name = envoyStatName(family.name, labels);
      if (options.filter && !options.filter.test(name)) continue;
      if (family.type === "histogram") {
        const h = metric as Histogram;
        if (options.usedOnly && h.count === 0) continue;
        histograms.push({ name, histogram: h });
      } else {
        const value = (metric as Counter | Gauge).value;
        if (options.usedOnly && value === 0) continue;
        values.push({ name, value });
      }
    }
  }
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return { values: values.sort(byName), histograms: histograms.sort(byName) };
}

/** Quantiles Envoy prints for each histogram. */
const QUANTILES: readonly (readonly [label: string, q: number])[] = [
  ["P0", 0],
  ["P25", 0.25],
  ["P50", 0.5],
  ["P75", 0.75],
  ["P90", 0.9],
  ["P95", 0.95],
  ["P99", 0.99],
  ["P99.5", 0.995],
  ["P99.9", 0.999],
  ["P100", 1],
];

function formatQuantile(v: number): string {
  return Number.isNaN(v) ? "nan" : String(Math.round(v * 1000) / 1000);
}

/**
 * Envoy's plain /stats body: `name: value` lines, counters and gauges sorted together, then histograms as
 * `name: P0(nan,x) … P100(nan,x)` (interval, cumulative; Trellis keeps no interval histograms, hence nan).
 */
export function renderEnvoyStatsText(store: StatsStore, options: EnvoyStatsOptions = {}): string {
  const { values, histograms } = collect(store, options);
  let out = "";
  for (const l of values) out += `${l.name}: ${l.value}\n`;
  for (const { name, histogram } of histograms) {
    if (histogram.count === 0) out += `${name}: No recorded values\n`;
    else {
      const qs = QUANTILES.map(([label, q]) => `${label}(nan,${formatQuantile(histogram.quantile(q))})`);
      out += `${name}: ${qs.join(" ")}\n`;
    }
  }
  return out;
}

/** Envoy's /stats?format=json shape: {"stats":[{"name","value"}…, {"histograms":{…}}]}. */
export function renderEnvoyStatsJson(store: StatsStore, options: EnvoyStatsOptions = {}): unknown {
  const { values, histograms } = collect(store, options);
  const stats: unknown[] = values.map((l) => ({ name: l.name, value: l.value }));
  if (histograms.length > 0) {
    stats.push({
      histograms: {
        supported_quantiles: QUANTILES.map(([, q]) => q * 100),
        computed_quantiles: histograms.map(({ name, histogram }) => ({
          name,
          values: QUANTILES.map(([, q]) => ({
            interval: null,
            cumulative: histogram.count === 0 ? null : Number(formatQuantile(histogram.quantile(q))),
          })),
        })),
      },
    });
  }
  return { stats };
}
