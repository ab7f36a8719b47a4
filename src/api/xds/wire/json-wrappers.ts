// protobufjs reads and writes well-known types in their message form ({seconds, nanos}, {value: 5}, Struct's
// {fields: …}); Envoy's JSON — what users write and what the parsers read — uses the proto3 JSON mapping instead
// ("1.5s", 5, plain objects). These wrappers make fromObject accept, and toObject produce, the JSON mapping.

import protobuf from "protobufjs";

type Wrapper = {
  fromObject(this: protobuf.Type, object: Record<string, unknown>): protobuf.Message;
  toObject(
    this: protobuf.Type,
    message: protobuf.Message,
    options?: protobuf.IConversionOptions,
  ): Record<string, unknown>;
};

const wrappers = protobuf.wrappers as unknown as Record<string, Wrapper>;
let installed = false;

function durationFromJson(value: unknown): { seconds: number; nanos: number } | unknown {
  if (typeof value !== "string") return value;
  const match = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(value.trim());
  if (match === null) return value;
  const sign = match[1] === "-" ? -1 : 1;
  const nanos = match[3] === undefined ? 0 : Number(match[3].padEnd(9, "0"));
  return { seconds: sign * Number(match[2]), nanos: sign * nanos };
}

function durationToJson(seconds: number, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const negative = seconds < 0 || nanos < 0;
  const frac = String(Math.abs(nanos)).padStart(9, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${Math.abs(seconds)}.${frac}s`;
}

function structFromJson(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) fields[k] = valueFromJson(v);
  return { fields };
}

function valueFromJson(v: unknown): unknown {
  if (v === null || v === undefined) return { null_value: "NULL_VALUE" };
  if (typeof v === "number") return { number_value: v };
  if (typeof v === "string") return { string_value: v };
  if (typeof v === "boolean") return { bool_value: v };
  if (Array.isArray(v)) return { list_value: { values: v.map(valueFromJson) } };
  return { struct_value: structFromJson(v) };
}

function valueToJson(v: Record<string, unknown>): unknown {
  if (v.struct_value !== undefined) return structToJson(v.struct_value as Record<string, unknown>);
  if (v.list_value !== undefined)
    return ((v.list_value as { values?: Record<string, unknown>[] }).values ?? []).map(valueToJson);
  if (v.string_value !== undefined) return v.string_value;
  if (v.number_value !== undefined) return v.number_value;
  if (v.bool_value !== undefined) return v.bool_value;
  return null;
}

function structToJson(s: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((s.fields as Record<string, Record<string, unknown>>) ?? {}))
    out[k] = valueToJson(v);
  return out;
}

/** Installs the wrappers once; protobufjs consults them for every type loaded afterwards. */
export function installJsonWrappers(): void {
  if (installed) return;
  installed = true;
  wrappers[".google.protobuf.Duration"] = {
    fromObject(object) {
      return this.fromObject(durationFromJson(object) as Record<string, unknown>);
    },
    toObject(message, options) {
      if (options?.json !== true) return this.toObject(message, options);
      const m = message as unknown as { seconds?: number | { toNumber(): number }; nanos?: number };
      const seconds = typeof m.seconds === "object" ? m.seconds.toNumber() : (m.seconds ?? 0);
      return durationToJson(seconds, m.nanos ?? 0) as unknown as Record<string, unknown>;
    },
  };
  for (const name of [
    "DoubleValue",
    "FloatValue",
    "Int64Value",
    "UInt64Value",
    "Int32Value",
    "UInt32Value",
    "BoolValue",
    "StringValue",
  ]) {
    wrappers[`.google.protobuf.${name}`] = {
      fromObject(object) {
        const isMessage = object !== null && typeof object === "object" && "value" in object;
        return this.fromObject(isMessage ? object : { value: object });
      },
      toObject(message, options) {
        if (options?.json !== true) return this.toObject(message, options);
        return this.toObject(message, { ...options, defaults: true }).value as Record<string, unknown>;
      },
    };
  }
  wrappers[".google.protobuf.Struct"] = {
    fromObject(object) {
      const isMessage = object !== null && typeof object === "object" && "fields" in object;
      return this.fromObject((isMessage ? object : structFromJson(object)) as Record<string, unknown>);
    },
    toObject(message, options) {
      if (options?.json !== true) return this.toObject(message, options);
      return structToJson(this.toObject(message, { ...options, json: false }));
    },
  };
}
