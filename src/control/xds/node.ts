// The node a proxy sends, from its wire form (metadata as a protobuf Struct) to plain JSON.

import type { WireNode, WireStruct, WireValue } from "./ads-proto.ts";
import type { XdsNode } from "./types.ts";

function fromValue(v: WireValue): unknown {
  switch (v.kind) {
    case "numberValue":
      return v.numberValue;
    case "stringValue":
      return v.stringValue;
    case "boolValue":
      return v.boolValue;
    case "structValue":
      return fromStruct(v.structValue);
    case "listValue":
      return (v.listValue?.values ?? []).map(fromValue);
    default:
      return null;
  }
}

export function fromStruct(s: WireStruct | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = fromValue(v);
  return out;
}

export function nodeFromWire(n: WireNode): XdsNode {
  const l = n.locality;
  const locality = l ? [l.region ?? "", l.zone ?? "", l.sub_zone ?? ""].join("/").replace(/\/+$/, "") : "";
  return {
    id: n.id ?? "",
    cluster: n.cluster ?? "",
    metadata: fromStruct(n.metadata),
    userAgentName: n.user_agent_name ?? "",
    ...(locality !== "" ? { locality } : {}),
  };
}
