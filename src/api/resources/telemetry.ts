// Telemetry (telemetry.istio.io): tracing, metrics and access logging per workload or namespace.

import type { CustomTag, ProviderRef, TelemetrySpec, WorkloadMode } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { readLabelSelector, readTargetRefs } from "./common.ts";
import { assign } from "./traffic-policy.ts";

const MODES = ["CLIENT_AND_SERVER", "CLIENT", "SERVER"] as const;

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
            assign(override.match, "metric", mm.string("metric"));
            assign(override.match, "customMetric", mm.string("customMetric"));
            assign(override.match, "mode", mm.enumValue("mode", MODES));
          }
          assign(override, "disabled", of.bool("disabled"));
          for (const entry of of.entries("tagOverrides")) {
            const t = SpecFields.open(ctx, entry.value, entry.path, { known: ["operation", "value"] });
            const tag: { operation?: "UPSERT" | "REMOVE"; value?: string } = {};
            assign(tag, "operation", t.enumValue("operation", ["UPSERT", "REMOVE"] as const));
            assign(tag, "value", t.string("value"));
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
  if (f.has("selector")) spec.selector = readLabelSelector(ctx, f.raw("selector"), f.at("selector"));
  if (spec.selector !== undefined && spec.targetRefs.length > 0)
    f.ctx.error(path, "only one of selector, targetRefs may be set");
  return spec;
}

function readCustomTags(f: SpecFields): Record<string, CustomTag> {
  const out: Record<string, CustomTag> = {};
  for (const entry of f.entries("customTags")) {
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
