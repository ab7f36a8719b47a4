// Metrics as plain objects: the proxy creates its counters, gauges and histograms when configuration arrives and
// keeps references, so counting on the request path is a property add (no map lookup, no label hashing, no
// allocation). The store only matters when something reads it: the admin server (/stats, /stats/prometheus).
// Names and labels follow Envoy's Prometheus output (envoy_cluster_upstream_rq_total{envoy_cluster_name="x"}).

import { TrellisError } from "../api/errors.ts";
import { renderPrometheusText, type PrometheusRenderOptions } from "./prometheus.ts";

export type Labels = Readonly<Record<string, string>>;
export type MetricType = "counter" | "gauge" | "histogram";

/** Envoy's default histogram buckets, in milliseconds (durations) or bytes (sizes). */
export const DEFAULT_HISTOGRAM_BUCKETS: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
]);

export class Counter {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

export class Gauge {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

export class Histogram {
  /** Upper bounds (inclusive, Prometheus `le`), strictly increasing; fixed at creation. */
  readonly bounds: readonly number[];
  /** counts[i] = observations in (bounds[i-1], bounds[i]]; the last slot is the +Inf bucket. Not cumulative. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[] = DEFAULT_HISTOGRAM_BUCKETS) {
    for (let i = 0; i < bounds.length; i++) {
      const b = bounds[i]!;
      if (!Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]!)) {
        throw new TrellisError(
          "TRELLIS_STATS_INVALID_BUCKETS",
          `histogram bucket bounds must be finite and strictly increasing, got [${bounds.join(", ")}]`,
        );
      }
    }
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    if (v !== v) return; // NaN: no bucket can hold it
    const b = this.bounds;
    // A short linear scan: latencies land in the first few buckets, and there are only ~20 of them.
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** Cumulative count of observations ≤ bounds[i] (i = bounds.length gives the total, the +Inf bucket). */
  cumulative(i: number): number {
    let n = 0;
    for (let j = 0; j <= i && j < this.counts.length; j++) n += this.counts[j]!;
    return n;
  }

  /**
   * An estimate of quantile q (0..1), interpolating linearly inside the bucket that holds it (as Prometheus'
   * histogram_quantile does). NaN with no observations; the highest finite bound if it falls in the +Inf bucket.
   */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.min(Math.max(q, 0), 1) * this.count;
    let below = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const inBucket = this.counts[i]!;
      if (inBucket > 0 && below + inBucket >= rank) {
        if (i === this.bounds.length) return this.bounds.length > 0 ? this.bounds[i - 1]! : NaN;
        const lower = i === 0 ? Math.min(0, this.bounds[0]!) : this.bounds[i - 1]!;
        const upper = this.bounds[i]!;
        return lower + ((upper - lower) * (rank - below)) / inBucket;
      }
      below += inBucket;
    }
    return this.bounds.length > 0 ? this.bounds[this.bounds.length - 1]! : NaN;
  }
}

export type Metric = Counter | Gauge | Histogram;

/** One labelled instance of a metric family. */
export interface MetricSeries {
  readonly labels: Labels;
  readonly metric: Metric;
}

/** All series sharing one name: what Prometheus calls a metric family (one # HELP and # TYPE). */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly series: ReadonlyMap<string, MetricSeries>;
}

interface MutableFamily extends MetricFamily {
  readonly series: Map<string, MetricSeries>;
}

export interface StatValue {
  name: string;
  labels: Labels;
  value: number;
}

export class StatsStore {
  private readonly families = new Map<string, MutableFamily>();

  counter(name: string, help: string, labels: Labels = NO_LABELS): Counter {
    return this.getOrCreate(name, help, "counter", labels, () => new Counter()) as Counter;
  }

  gauge(name: string, help: string, labels: Labels = NO_LABELS): Gauge {
    return this.getOrCreate(name, help, "gauge", labels, () => new Gauge()) as Gauge;
  }

  histogram(
    name: string,
    help: string,
    labels: Labels = NO_LABELS,
    buckets: readonly number[] = DEFAULT_HISTOGRAM_BUCKETS,
  ): Histogram {
    return this.getOrCreate(name, help, "histogram", labels, () => new Histogram(buckets)) as Histogram;
  }

  /** Removes the metrics of one owner (a removed cluster or listener), e.g. `(_, l) => l.envoy_cluster_name === c`. */
  removeWhere(pred: (name: string, labels: Labels) => boolean): void {
    for (const [name, family] of this.families) {
      for (const [key, s] of family.series) if (pred(name, s.labels)) family.series.delete(key);
      if (family.series.size === 0) this.families.delete(name);
    }
  }

  /** Families sorted by name (stable output for diffs and tests). */
  sortedFamilies(): MetricFamily[] {
    return [...this.families.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Prometheus text exposition format 0.0.4. */
  renderPrometheus(options?: PrometheusRenderOptions): string {
    return renderPrometheusText(this.sortedFamilies(), options);
  }

  /** Counters and gauges as {name, labels, value}; each histogram as its _count, _sum and p50/p99 estimates. */
  toJSON(): StatValue[] {
    const out: StatValue[] = [];
    for (const family of this.sortedFamilies()) {
      for (const key of sortedKeys(family.series)) {
        const { labels, metric } = family.series.get(key)!;
        if (metric instanceof Histogram) {
          out.push({ name: family.name + "_count", labels, value: metric.count });
          out.push({ name: family.name + "_sum", labels, value: metric.sum });
          if (metric.count > 0) {
            out.push({ name: family.name + "_p50", labels, value: metric.quantile(0.5) });
            out.push({ name: family.name + "_p99", labels, value: metric.quantile(0.99) });
          }
        } else out.push({ name: family.name, labels, value: metric.value });
      }
    }
    return out;
  }

  private getOrCreate(name: string, help: string, type: MetricType, labels: Labels, make: () => Metric): Metric {
    const safeName = sanitizeMetricName(name);
    let family = this.families.get(safeName);
    if (family === undefined) {
      family = { name: safeName, help, type, series: new Map() };
      this.families.set(safeName, family);
    } else if (family.type !== type) {
      throw new TrellisError(
        "TRELLIS_STATS_TYPE_CONFLICT",
        `metric ${safeName} is a ${family.type}; it cannot also be a ${type}`,
      );
    }
    const safeLabels = sanitizeLabels(labels);
    const key = seriesKey(safeLabels);
    let series = family.series.get(key);
    if (series === undefined) {
      series = { labels: safeLabels, metric: make() };
      family.series.set(key, series);
    }
    return series.metric;
  }
}

const NO_LABELS: Labels = Object.freeze({});

/** Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; anything else becomes `_` (as Envoy's exporter does). */
export function sanitizeMetricName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, "_");
  return /^[0-9]/.test(s) || s === "" ? "_" + s : s;
}

/** Label names: [a-zA-Z_][a-zA-Z0-9_]*. Values may be anything (escaped on output). Keeps the caller's order. */
function sanitizeLabels(labels: Labels): Labels {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels)) {
    let name = k.replace(/[^a-zA-Z0-9_]/g, "_");
    if (/^[0-9]/.test(name) || name === "") name = "_" + name;
    out[name] = String(labels[k]);
  }
  return Object.freeze(out);
}

/** Same labels in any order → same key. Computed at creation time only, never per request. */
function seriesKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  let key = "";
  for (const k of keys) key += k + "\u0000" + labels[k] + "\u0001";
  return key;
}

export function sortedKeys(series: ReadonlyMap<string, MetricSeries>): string[] {
  return [...series.keys()].sort();
}

// The per-owner Envoy stats (cluster, connection manager, listener, TCP proxy) live in envoy-stats.ts, which only
// imports types from here, so re-exporting them creates no import cycle at run time.
export {
  ClusterStats,
  HttpConnManagerStats,
  ListenerStats,
  TcpProxyStats,
  createClusterStats,
  createHttpConnManagerStats,
  createListenerStats,
  createTcpProxyStats,
  listenerStatAddress,
  removeClusterStats,
} from "./envoy-stats.ts";
