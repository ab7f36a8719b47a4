// Reading one protobuf message written as YAML/JSON: each key in snake_case (Envoy's YAML) or lowerCamelCase
// (protobuf's JSON mapping), every key checked against the message's fields, and typed getters that report what
// was expected at the exact path and hand back a harmless value so parsing can go on and find the next problem.

import { parseDurationMs } from "./duration.ts";
import { childPath, describe, indexPath, isPlainObject } from "./context.ts";
import type { ParseContext } from "./context.ts";

/** The fields of one message, by what this stage does with them. Names are snake_case. */
export interface MessageSpec {
  /** Read by the parser. */
  handled: readonly string[];
  /** Envoy fields accepted and deliberately without effect here (names, metadata, stats knobs). */
  ignored?: readonly string[];
  /** Envoy fields kept raw in `extensions` for a later stage. */
  extensions?: readonly string[];
  /** Envoy fields that exist but are not implemented yet: refused, because dropping them would change behaviour. */
  unsupported?: readonly string[];
}

interface Entry {
  /** The key as written in the file. */
  key: string;
  value: unknown;
}

export interface Item {
  value: unknown;
  path: string;
}

export const UINT32_MAX = 4_294_967_295;

/** "fooBarBaz" → "foo_bar_baz"; snake_case keys come back unchanged. */
export function toSnakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

export class Fields {
  private readonly entries = new Map<string, Entry>();

  private constructor(
    readonly ctx: ParseContext,
    /** The path of the message itself. */
    readonly path: string,
    private readonly spec: MessageSpec,
  ) {}

  /**
   * Opens `raw` as a message. Not an object → one issue and an empty message (its required fields are then
   * not reported again: one mistake, one message).
   */
  static open(ctx: ParseContext, raw: unknown, path: string, spec: MessageSpec): Fields {
    const fields = new Fields(ctx, path, spec);
    if (raw === undefined || raw === null) return fields;
    if (!isPlainObject(raw)) {
      ctx.report(path, `expected an object, got ${describe(raw)}`);
      fields.broken = true;
      return fields;
    }
    fields.load(raw);
    return fields;
  }

  /** True when the value was not an object at all (required-field checks are skipped then). */
  broken = false;

  private load(raw: Record<string, unknown>): void {
    const { spec } = this;
    for (const [key, value] of Object.entries(raw)) {
      const name = key.startsWith("@") ? key : toSnakeCase(key);
      const at = childPath(this.path, key);
      const earlier = this.entries.get(name);
      if (earlier !== undefined) {
        this.ctx.report(at, `field given twice (as "${earlier.key}" and "${key}")`);
        continue;
      }
      if (spec.unsupported?.includes(name)) {
        this.ctx.report(at, `"${key}" is not supported yet`);
        continue;
      }
      const known = spec.handled.includes(name) || spec.ignored?.includes(name) || spec.extensions?.includes(name);
      if (!known) {
        this.ctx.report(at, `unknown field "${key}"`);
        continue;
      }
      this.entries.set(name, { key, value });
    }
  }

  /** Present and not null (protobuf's JSON mapping treats null as "not set"). */
  has(name: string): boolean {
    const entry = this.entries.get(name);
    return entry !== undefined && entry.value !== null;
  }

  raw(name: string): unknown {
    const value = this.entries.get(name)?.value;
    return value === null ? undefined : value;
  }

  /** The path of a field, spelled as in the file (snake_case when absent). */
  at(name: string): string {
    return childPath(this.path, this.entries.get(name)?.key ?? name);
  }

  report(name: string, message: string): void {
    this.ctx.report(this.at(name), message);
  }

  /** The spec's extension fields that are present, raw, keyed snake_case. */
  extensions(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const name of this.spec.extensions ?? []) {
      if (this.has(name)) out[name] = this.raw(name);
    }
    return out;
  }

  requireField(name: string): boolean {
    if (this.has(name)) return true;
    if (!this.broken) this.ctx.report(this.at(name), "required");
    return false;
  }

  /**
   * Which of `names` is set. More than one → an issue; none and `required` → an issue naming the choices.
   */
  oneOf<T extends string>(names: readonly T[], required: boolean): T | undefined {
    const set = names.filter((n) => this.has(n));
    if (set.length > 1) {
      this.ctx.report(this.path, `only one of ${names.join(", ")} may be set, got ${set.join(" and ")}`);
      return set[0];
    }
    if (set.length === 0 && required && !this.broken) {
      this.ctx.report(this.path, `one of ${names.join(", ")} is required`);
    }
    return set[0];
  }

  // --- typed getters ----------------------------------------------------------------------------------------

  string(name: string): string | undefined {
    if (!this.has(name)) return undefined;
    const value = this.raw(name);
    if (typeof value === "string") return value;
    this.report(name, `expected a string, got ${describe(value)}`);
    return undefined;
  }

  /** A required, non-empty string; "" when missing or wrong (already reported). */
  requiredString(name: string): string {
    if (!this.requireField(name)) return "";
    const value = this.string(name);
    if (value === "") this.report(name, "must not be empty");
    return value ?? "";
  }

  /** bool, or the BoolValue wrapper {value: bool}. */
  bool(name: string, fallback: boolean): boolean {
    if (!this.has(name)) return fallback;
    const value = unwrap(this.raw(name));
    if (typeof value === "boolean") return value;
    this.report(name, `expected true or false, got ${describe(this.raw(name))}`);
    return fallback;
  }

  /** An integer in [min, max]; accepts the UInt32Value/UInt64Value wrapper and protobuf's decimal-string int64. */
  integer(name: string, fallback: number, min = 0, max = UINT32_MAX): number {
    if (!this.has(name)) return fallback;
    const parsed = readInteger(this.raw(name), min, max);
    if (typeof parsed === "number") return parsed;
    this.report(name, parsed.error);
    return fallback;
  }

  optionalInteger(name: string, min = 0, max = UINT32_MAX): number | undefined {
    if (!this.has(name)) return undefined;
    const parsed = readInteger(this.raw(name), min, max);
    if (typeof parsed === "number") return parsed;
    this.report(name, parsed.error);
    return undefined;
  }

  durationMs(name: string): number | undefined {
    if (!this.has(name)) return undefined;
    const parsed = parseDurationMs(this.raw(name));
    if (parsed.ok) return parsed.value;
    this.report(name, parsed.error);
    return undefined;
  }

  /**
   * An enum by name (or by its protobuf number: `values[n]` is the name of number n). `unsupported` names are
   * real Envoy values refused with "not supported yet".
   */
  enumValue<T extends string>(
    name: string,
    values: readonly (T | undefined)[],
    fallback: T,
    unsupported: readonly (string | undefined)[] = [],
  ): T {
    if (!this.has(name)) return fallback;
    const value = this.raw(name);
    const given = typeof value === "number" && Number.isInteger(value) ? (values[value] ?? unsupported[value]) : value;
    if (typeof given === "string") {
      // Envoy parses enums case-insensitively (its YAML examples write `strict_dns`, `round_robin`, `auto`).
      const upper = given.toUpperCase();
      const asName = [...values, ...unsupported].find((v) => v !== undefined && v.toUpperCase() === upper) ?? given;
      if (values.includes(asName as T)) return asName as T;
      if (unsupported.includes(asName)) {
        this.report(name, `${asName} is not supported yet`);
        return fallback;
      }
    }
    const allowed = values.filter((v): v is T => v !== undefined).join(", ");
    this.report(name, `expected one of ${allowed}, got ${describe(value)}`);
    return fallback;
  }

  /** A nested message (absent → an empty one, so defaults apply). */
  message(name: string, spec: MessageSpec): Fields {
    return Fields.open(this.ctx, this.raw(name), this.at(name), spec);
  }

  /** A repeated field: each element with its path. Absent → []. */
  list(name: string): Item[] {
    if (!this.has(name)) return [];
    const value = this.raw(name);
    const at = this.at(name);
    if (!Array.isArray(value)) {
      this.ctx.report(at, `expected a list, got ${describe(value)}`);
      return [];
    }
    return value.map((element, i) => ({ value: element, path: indexPath(at, i) }));
  }

  stringList(name: string): string[] {
    const out: string[] = [];
    for (const item of this.list(name)) {
      if (typeof item.value === "string") out.push(item.value);
      else this.ctx.report(item.path, `expected a string, got ${describe(item.value)}`);
    }
    return out;
  }

  /** A map field (string keys), e.g. metadata or typed_per_filter_config. */
  map(name: string): Record<string, unknown> {
    if (!this.has(name)) return {};
    const value = this.raw(name);
    if (isPlainObject(value)) return value;
    this.report(name, `expected an object, got ${describe(value)}`);
    return {};
  }
}

/** The protobuf wrapper types ({value: x}) read as x. */
function unwrap(value: unknown): unknown {
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "value") return value.value;
  }
  return value;
}

function readInteger(raw: unknown, min: number, max: number): number | { error: string } {
  const value = unwrap(raw);
  let n: number | undefined;
  if (typeof value === "number" && Number.isInteger(value)) n = value;
  else if (typeof value === "string" && /^-?\d+$/.test(value.trim())) n = Number(value);
  if (n !== undefined && n >= min && n <= max) return n;
  const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer ${min}-${max}`;
  return { error: `expected ${range}, got ${describe(value)}` };
}
