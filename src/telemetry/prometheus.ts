// Prometheus text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/):
// one # HELP and # TYPE per family, then one line per series; histograms as cumulative _bucket{le=…} lines ending
// with le="+Inf", then _sum and _count. Runs only when scraped, so clarity wins over speed here.

import type { Counter, Gauge, Histogram, Labels, MetricFamily } from "./stats.ts";

export interface PrometheusRenderOptions {
  /** Only series that were ever counted: counters/gauges ≠ 0, histograms with observations (Envoy's usedonly). */
  usedOnly?: boolean;
  /** Only families whose name matches. */
  filter?: RegExp;
}

export function renderPrometheusText(families: readonly MetricFamily[], options: PrometheusRenderOptions = {}): string {
  const parts: string[] = [];
  for (const family of families) {
    if (options.filter && !options.filter.test(family.name)) continue;
    const lines: string[] = [];
    for (const key of [...family.series.keys()].sort()) {
      const { labels, metric } = family.series.get(key)!;
      if (family.type === "histogram") {
        const h = metric as Histogram;
        if (options.usedOnly && h.count === 0) continue;
        renderHistogram(lines, family.name, labels, h);
      } else {
        const v = (metric as Counter | Gauge).value;
        if (options.usedOnly && v === 0) continue;
        lines.push(family.name + renderLabels(labels) + " " + formatValue(v));
      }
    }
    if (lines.length === 0) continue;
    parts.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`, ...lines);
  }
  return parts.length === 0 ? "" : parts.join("\n") + "\n";
}

function renderHistogram(lines: string[], name: string, labels: Labels, h: Histogram): void {
  let cumulative = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cumulative += h.counts[i]!;
    lines.push(`${name}_bucket${renderLabels(labels, formatValue(h.bounds[i]!))} ${formatValue(cumulative)}`);
  }
  lines.push(`${name}_bucket${renderLabels(labels, "+Inf")} ${formatValue(h.count)}`);
  lines.push(`${name}_sum${renderLabels(labels)} ${formatValue(h.sum)}`);
  lines.push(`${name}_count${renderLabels(labels)} ${formatValue(h.count)}`);
}

/** `{a="x",b="y"}` in the labels' own order (Envoy's tag order), `le` last; "" when there are none. */
export function renderLabels(labels: Labels, le?: string): string {
  let out = "";
  for (const k of Object.keys(labels)) out += (out === "" ? "" : ",") + k + '="' + escapeLabelValue(labels[k]!) + '"';
  if (le !== undefined) out += (out === "" ? "" : ",") + 'le="' + le + '"';
  return out === "" ? "" : "{" + out + "}";
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : "\\" + c));
}

/** HELP text escapes backslash and line feed (not quotes). */
export function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

/** Go-style float text: integers without a decimal point, +Inf/-Inf/NaN spelled as Prometheus expects. */
export function formatValue(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}
