// protobufjs writes well-known types in their message form ({seconds, nanos}, {value: 5}, Struct's {fields: …});
// Envoy's JSON — what users write and what the parsers read — uses the proto3 JSON mapping instead ("1.5s", 5,
// plain objects). These wrappers make toObject({json: true}) produce the JSON mapping. The other direction is
// json-shape.ts's: values are put in message form before fromObject sees them (its generated code refuses a
// scalar where a message is expected before any wrapper could run).

import protobuf from "protobufjs";
import { WRAPPER_TYPES } from "./json-shape.ts";

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

function durationToJson(seconds: number, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const negative = seconds < 0 || nanos < 0;
  const frac = String(Math.abs(nanos)).padStart(9, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${Math.abs(seconds)}.${frac}s`;
}

/** A google.protobuf.Value: protobufjs's built-in well-known types name its fields in camelCase. */
function valueToJson(v: Record<string, unknown>): unknown {
  if (v.structValue !== undefined) return structToJson(v.structValue as Record<string, unknown>);
  if (v.listValue !== undefined)
    return ((v.listValue as { values?: Record<string, unknown>[] }).values ?? []).map(valueToJson);
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return null;
}

function structToJson(s: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((s.fields as Record<string, Record<string, unknown>>) ?? {}))
    out[k] = valueToJson(v);
  return out;
}

function passThrough(this: protobuf.Type, object: Record<string, unknown>): protobuf.Message {
  return this.fromObject(object);
}

/** Installs the wrappers once; protobufjs consults them for every type loaded afterwards. */
export function installJsonWrappers(): void {
  if (installed) return;
  installed = true;
  wrappers[".google.protobuf.Duration"] = {
    fromObject: passThrough,
    toObject(message, options) {
      if (options?.json !== true) return this.toObject(message, options);
      const m = message as unknown as { seconds?: number | { toNumber(): number }; nanos?: number };
      const seconds = typeof m.seconds === "object" ? m.seconds.toNumber() : (m.seconds ?? 0);
      return durationToJson(seconds, m.nanos ?? 0) as unknown as Record<string, unknown>;
    },
  };
  for (const name of WRAPPER_TYPES) {
    wrappers[name] = {
      fromObject: passThrough,
      toObject(message, options) {
        if (options?.json !== true) return this.toObject(message, options);
        return this.toObject(message, { ...options, defaults: true }).value as Record<string, unknown>;
      },
    };
  }
  wrappers[".google.protobuf.Struct"] = {
    fromObject: passThrough,
    toObject(message, options) {
      if (options?.json !== true) return this.toObject(message, options);
      return structToJson(this.toObject(message, { ...options, json: false }));
    },
  };
}
