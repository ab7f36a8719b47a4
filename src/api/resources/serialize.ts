// Resources back out, for `trellis get -o yaml|json` and the store: the key that names one, and the typed resource
// written the way Istio's users write it (durations as "1s"/"100ms", empty lists and maps left out), so what
// `get` prints can be applied again and reads back the same.

import { stringify } from "yaml";
import type { Resource } from "./types.ts";
import { formatIstioDuration } from "./duration.ts";

/** `Kind/namespace/name`: unique in a mesh, the store's key. */
export function resourceKey(resource: Pick<Resource, "kind" | "metadata">): string {
  return `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
}

/** Istio's field names whose values are durations (numbers of milliseconds in the typed resource). */
const DURATION_FIELDS = new Set([
  "timeout",
  "perTryTimeout",
  "fixedDelay",
  "maxAge",
  "warmupDurationSecs",
  "duration",
  "ttl",
  "connectTimeout",
  "maxConnectionDuration",
  "idleTimeout",
  "time",
  "interval",
  "baseEjectionTime",
  "reportingInterval",
  // The Gateway API's HTTPRoute timeouts.
  "request",
  "backendRequest",
]);

/** Maps whose emptiness means "none": left out. (An empty match `{}` inside a header map means "present": kept.) */
const OPTIONAL_MAPS = new Set([
  "labels",
  "annotations",
  "sourceLabels",
  "matchLabels",
  "set",
  "add",
  "headers",
  "withoutHeaders",
  "queryParams",
  "ports",
  "portLevelMtls",
  "customTags",
  "tagOverrides",
  "selector",
]);

/** The resource as plain JSON data in Istio's spelling. */
export function toIstioObject(resource: Resource): Record<string, unknown> {
  return convert(resource, "") as Record<string, unknown>;
}

function convert(value: unknown, key: string): unknown {
  if (typeof value === "number" && DURATION_FIELDS.has(key)) return formatIstioDuration(value);
  if (Array.isArray(value)) return value.map((element) => convert(element, ""));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      if (k === "ignoreUriCase" && v === false) continue; // the default, and noise in every match
      if (Array.isArray(v) && v.length === 0) continue;
      if (OPTIONAL_MAPS.has(k) && typeof v === "object" && v !== null && Object.keys(v).length === 0) continue;
      out[k] = convert(v, k);
    }
    return out;
  }
  return value;
}

/** YAML as Istio's users write it; several resources become one multi-document file. */
export function serializeResource(resource: Resource | readonly Resource[]): string {
  const list = Array.isArray(resource) ? resource : [resource as Resource];
  return list.map((r) => stringify(toIstioObject(r), { lineWidth: 0 })).join("---\n");
}
