// protobufjs's generated fromObject insists that a message field holds an object, but Envoy's JSON writes some
// messages as scalars: durations ("1.5s"), wrapper types (5 for UInt32Value), Structs as plain objects. This walks a
// resource along its protobuf type and rewrites those values into message form before fromObject sees them.

import type protobuf from "protobufjs";

/** The protobuf wrapper types ({value: x}), which the JSON mapping writes as the bare x. */
export const WRAPPER_TYPES: ReadonlySet<string> = new Set(
  [
    "DoubleValue",
    "FloatValue",
    "Int64Value",
    "UInt64Value",
    "Int32Value",
    "UInt32Value",
    "BoolValue",
    "StringValue",
  ].map((n) => `.google.protobuf.${n}`),
);

export function toMessageShape(type: protobuf.Type, value: unknown, lookup: (name: string) => protobuf.Type): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const object = value as Record<string, unknown>;
  if (type.fullName === ".google.protobuf.Any") {
    const url = object["@type"];
    if (typeof url !== "string") return value;
    const inner = lookup(url.slice(url.lastIndexOf("/") + 1));
    return { ...(toMessageShape(inner, object, lookup) as Record<string, unknown>), "@type": url };
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(object)) {
    const field = type.fields[key];
    if (field === undefined || v === undefined) {
      out[key] = v;
      continue;
    }
    field.resolve();
    const resolved = field.resolvedType;
    if (resolved === null || !("fields" in resolved)) {
      out[key] = v;
      continue;
    }
    const fieldType = resolved as protobuf.Type;
    const convert = (x: unknown): unknown => fieldValue(fieldType, x, lookup);
    if (field.repeated && Array.isArray(v)) out[key] = v.map(convert);
    else if (field.map && v !== null && typeof v === "object")
      out[key] = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, convert(x)]));
    else out[key] = convert(v);
  }
  return out;
}

function fieldValue(type: protobuf.Type, value: unknown, lookup: (name: string) => protobuf.Type): unknown {
  const name = type.fullName;
  if (name === ".google.protobuf.Duration" && typeof value === "string") return durationMessage(value);
  if (WRAPPER_TYPES.has(name) && (value === null || typeof value !== "object")) return { value };
  if (name === ".google.protobuf.Struct") return structMessage(value);
  if (name === ".google.protobuf.Value") return valueMessage(value);
  return toMessageShape(type, value, lookup);
}

function durationMessage(text: string): unknown {
  const match = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(text.trim());
  if (match === null) return text; // left for fromObject to refuse with the field's name
  const sign = match[1] === "-" ? -1 : 1;
  const nanos = match[3] === undefined ? 0 : Number(match[3].padEnd(9, "0"));
  return { seconds: sign * Number(match[2]), nanos: sign * nanos };
}

function structMessage(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  if ("fields" in value) return value;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) fields[k] = valueMessage(v);
  return { fields };
}

// protobufjs's own google.protobuf.Value (its built-in well-known types) names its fields in camelCase, whatever
// keepCase says for the Envoy protos.
function valueMessage(v: unknown): unknown {
  if (v === null || v === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(valueMessage) } };
  return { structValue: structMessage(v) };
}
