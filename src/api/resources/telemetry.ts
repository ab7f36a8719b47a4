// Telemetry (telemetry.istio.io): tracing, metrics and access logging per workload or namespace.

import type { CustomTag, ProviderRef, TelemetrySpec, WorkloadMode } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { childPath } from "./context.ts";
import { checkOneTarget, readLabelSelector, readTargetRefs } from "./common.ts";
import { assign } from "./traffic-policy.ts";

const MODES = ["CLIENT_AND_SERVER", "CLIENT", "SERVER"] as const;
/** Istio's standard metrics (MetricSelector.IstioMetric). */
const METRICS = [
  "ALL_METRICS",
  "REQUEST_COUNT",
  "REQUEST_DURATION",
  "REQUEST_SIZE",
  "RESPONSE_SIZE",
  "TCP_OPENED_CONNECTIONS",
  "TCP_CLOSED_CONNECTIONS",
  "TCP_SENT_BYTES",
  "TCP_RECEIVED_BYTES",
  "GRPC_REQUEST_MESSAGES",
  "GRPC_RESPONSE_MESSAGES",
] as const;

export function readTelemetrySpec(ctx: ResourceContext, raw: unknown, path: string): TelemetrySpec {
  const f = SpecFields.open(ctx, raw, path, {
    known: ["selector", "targetRef", "targetRefs", "tracing", "metrics", "accessLogging"],
  });
  const spec: TelemetrySpec = {
    targetRefs: readTargetRefs(f),
    tracing: f.list("tracing").map((item) => {
      const t = SpecFields.open(ctx, item.value, item.path, {
        known: ["match", "providers", "randomSamplingPercentage", "disableSpanReporting", "customTags"],
      });
      const tracing: TelemetrySpec["tracing"][number] = {
        providers: readProviders(t),
        customTags: readCustomTags(t),
      };
      assign(tracing, "match", readMatch(t));
      assign(tracing, "randomSamplingPercentage", t.number("randomSamplingPercentage", 0, 100));
      assign(tracing, "disableSpanReporting", t.bool("disableSpanReporting"));
      return tracing;
    }),
    metrics: f.list("metrics").map((item) => {
      const m = SpecFields.open(ctx, item.value, item.path, { known: ["providers", "overrides", "reportingInterval"] });
      const metrics: TelemetrySpec["metrics"][number] = {
        providers: readProviders(m),
        overrides: m.list("overrides").map((o) => {
          const of = SpecFields.open(ctx, o.value, o.path, { known: ["match", "disabled", "tagOverrides"] });
          const override: TelemetrySpec["metrics"][number]["overrides"][number] = { tagOverrides: {} };
          if (of.has("match")) {
            const mm = of.message("match", { known: ["metric", "customMetric", "mode"] });
            override.match = {};
            mm.oneOf(["metric", "customMetric"], false);
            assign(override.match, "metric", mm.enumValue("metric", METRICS));
            const custom = mm.string("customMetric");
            if (custom === "") mm.error("customMetric", "must not be empty");
            assign(override.match, "customMetric", custom);
            assign(override.match, "mode", mm.enumValue("mode", MODES));
          }
          assign(override, "disabled", of.bool("disabled"));
          for (const entry of of.entries("tagOverrides")) {
            const t = SpecFields.open(ctx, entry.value, entry.path, { known: ["operation", "value"] });
            const tag: { operation?: "UPSERT" | "REMOVE"; value?: string } = {};
            assign(tag, "operation", t.enumValue("operation", ["UPSERT", "REMOVE"] as const));
            assign(tag, "value", t.string("value"));
            if (entry.key === "") ctx.warn(entry.path, "a tag override without a tag name changes nothing");
            // Istio: UPSERT (the default) writes a value, REMOVE has none.
            if (!t.broken && tag.operation !== "REMOVE" && (tag.value ?? "") === "")
              ctx.error(childPath(entry.path, "value"), "required when operation is UPSERT (the default)");
            if (tag.operation === "REMOVE" && tag.value !== undefined)
              t.error("value", "only allowed when operation is UPSERT");
            override.tagOverrides[entry.key] = tag;
          }
          return override;
        }),
      };
      assign(metrics, "reportingInterval", m.duration("reportingInterval", 1));
      return metrics;
    }),
    accessLogging: f.list("accessLogging").map((item) => {
      const a = SpecFields.open(ctx, item.value, item.path, { known: ["match", "providers", "disabled", "filter"] });
      const logging: TelemetrySpec["accessLogging"][number] = { providers: readProviders(a) };
      assign(logging, "match", readMatch(a));
      assign(logging, "disabled", a.bool("disabled"));
      if (a.has("filter"))
        logging.filter = { expression: a.message("filter", { known: ["expression"] }).requiredString("expression") };
      return logging;
    }),
  };
  // Istio's warnings: Envoy takes one tracing configuration with one provider.
  if (spec.tracing.length > 1) f.warn("tracing", "multiple tracing entries are not supported: only the first is used");
  spec.tracing.forEach((t, i) => {
    if (t.providers.length > 1)
      ctx.warn(`${f.at("tracing")}[${i}].providers`, "multiple providers are not supported: only the first is used");
  });
  if (f.has("selector")) spec.selector = readLabelSelector(ctx, f.raw("selector"), f.at("selector"));
  checkOneTarget(f, spec.selector, spec.targetRefs);
  return spec;
}

function readCustomTags(f: SpecFields): Record<string, CustomTag> {
  const out: Record<string, CustomTag> = {};
  for (const entry of f.entries("customTags")) {
    if (entry.key === "") f.ctx.error(entry.path, "expected a tag name, got an empty key");
    const t = SpecFields.open(f.ctx, entry.value, entry.path, { known: ["literal", "environment", "header"] });
    const which = t.oneOf(["literal", "environment", "header"], true);
    const tag: CustomTag = {};
    if (which === "literal")
      tag.literal = { value: t.message("literal", { known: ["value"] }).requiredString("value") };
    else if (which !== undefined) {
      const source = t.message(which, { known: ["name", "defaultValue"] });
      const from: { name: string; defaultValue?: string } = { name: source.requiredString("name") };
      assign(from, "defaultValue", source.string("defaultValue"));
      tag[which] = from;
    }
    out[entry.key] = tag;
  }
  return out;
}

function readProviders(f: SpecFields): ProviderRef[] {
  return f.list("providers").map((item) => ({
    name: SpecFields.open(f.ctx, item.value, item.path, { known: ["name"] }).requiredString("name"),
  }));
}

function readMatch(f: SpecFields): { mode: WorkloadMode } | undefined {
  if (!f.has("match")) return undefined;
  return { mode: f.message("match", { known: ["mode"] }).enumValue("mode", MODES) ?? "CLIENT_AND_SERVER" };
}
