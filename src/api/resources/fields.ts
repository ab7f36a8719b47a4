// Reading one message of an Istio resource's spec: keys in Istio's camelCase, each checked against the message's
// known fields. An unknown field is a warning (Istio's own CRD schemas prune them; we say so instead of dropping
// them silently); a real Istio field Trellis does not implement is refused, because ignoring it would change what
// the user asked for. Typed getters report what was expected at the exact path and return a harmless value.

import { parseIstioDuration } from "./duration.ts";
import { childPath, indexPath, keyPath } from "./context.ts";
import type { ResourceContext } from "./context.ts";
import { describe, isPlainObject } from "../xds/parse/context.ts";

export interface FieldSpec {
  /** Fields read by the reader (deprecated spellings included: the reader warns and normalises them). */
  known: readonly string[];
  /** Istio fields refused, with the reason shown to the user. */
  refused?: Readonly<Record<string, string>>;
}

export interface Item {
  value: unknown;
  path: string;
}

export interface Entry<T> {
  key: string;
  value: T;
  path: string;
}

export class SpecFields {
  private readonly values = new Map<string, unknown>();
  /** True when the value was not an object at all (required-field checks are skipped: one mistake, one error). */
  broken = false;

  private constructor(
    readonly ctx: ResourceContext,
    readonly path: string,
  ) {}

  static open(ctx: ResourceContext, raw: unknown, path: string, spec: FieldSpec): SpecFields {
    const fields = new SpecFields(ctx, path);
    if (raw === undefined || raw === null) return fields;
    if (!isPlainObject(raw)) {
      ctx.error(path, `expected an object, got ${describe(raw)}`);
      fields.broken = true;
      return fields;
    }
    for (const [key, value] of Object.entries(raw)) {
      const at = childPath(path, key);
      const refusal = spec.refused?.[key];
      if (refusal !== undefined) ctx.error(at, refusal);
      else if (spec.known.includes(key)) fields.values.set(key, value);
      else ctx.warn(at, `unknown field "${key}" ignored (known here: ${spec.known.join(", ")})`);
    }
    return fields;
  }

  /** Present and not null (YAML's `field:` with nothing after it reads as null: treated as not written). */
  has(name: string): boolean {
    const value = this.values.get(name);
    return value !== undefined && value !== null;
  }

  raw(name: string): unknown {
    const value = this.values.get(name);
    return value === null ? undefined : value;
  }

  at(name: string): string {
    return childPath(this.path, name);
  }

  error(name: string, message: string): void {
    this.ctx.error(this.at(name), message);
  }

  warn(name: string, message: string): void {
    this.ctx.warn(this.at(name), message);
  }

  require(name: string): boolean {
    if (this.has(name)) return true;
    if (!this.broken) this.ctx.error(this.at(name), "required");
    return false;
  }

  /** Which of `names` is set; more than one is an error, none is one when `required`. */
  oneOf<T extends string>(names: readonly T[], required: boolean): T | undefined {
    const set = names.filter((n) => this.has(n));
    if (set.length > 1)
      this.ctx.error(this.path, `only one of ${names.join(", ")} may be set, got ${set.join(" and ")}`);
    else if (set.length === 0 && required && !this.broken) {
      this.ctx.error(this.path, `one of ${names.join(", ")} is required`);
    }
    return set[0];
  }

  string(name: string): string | undefined {
    if (!this.has(name)) return undefined;
    const value = this.raw(name);
    if (typeof value === "string") return value;
    this.error(name, `expected a string, got ${describe(value)}`);
    return undefined;
  }

  /** Required and not empty; "" when missing or wrong (already reported). */
  requiredString(name: string): string {
    if (!this.require(name)) return "";
    const value = this.string(name);
    if (value === "") this.error(name, "must not be empty");
    return value ?? "";
  }

  bool(name: string): boolean | undefined {
    if (!this.has(name)) return undefined;
    const value = this.raw(name);
    if (typeof value === "boolean") return value;
    this.error(name, `expected true or false, got ${describe(value)}`);
    return undefined;
  }

  /** An integer in [min, max]. */
  integer(name: string, min: number, max: number): number | undefined {
    if (!this.has(name)) return undefined;
    const value = this.raw(name);
    if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
    const range = max >= 2_147_483_647 ? `>= ${min}` : `${min}-${max}`;
    this.error(name, `expected an integer ${range}, got ${describe(value)}`);
    return undefined;
  }

  /** A number (fractions allowed) in [min, max]. */
  number(name: string, min: number, max: number): number | undefined {
    if (!this.has(name)) return undefined;
    const value = this.raw(name);
    if (typeof value === "number" && Number.isFinite(value) && value >= min && value <= max) return value;
    this.error(name, `expected a number ${min}-${max}, got ${describe(value)}`);
    return undefined;
  }

  /** Milliseconds; `minMs` is the smallest accepted value (Istio: 1 ms for most, 0 where 0 means "off"). */
  duration(name: string, minMs = 0): number | undefined {
    if (!this.has(name)) return undefined;
    const parsed = parseIstioDuration(this.raw(name));
    if (!parsed.ok) {
      this.error(name, parsed.error);
      return undefined;
    }
    if (parsed.value < minMs) {
      this.error(name, `expected a duration of at least ${minMs}ms, got ${describe(this.raw(name))}`);
      return undefined;
    }
    return parsed.value;
  }

  /** One of `values`, spelled exactly (Istio's enums are upper case). */
  enumValue<T extends string>(name: string, values: readonly T[]): T | undefined {
    if (!this.has(name)) return undefined;
    const value = this.raw(name);
    if (typeof value === "string" && (values as readonly string[]).includes(value)) return value as T;
    this.error(name, `expected one of ${values.join(", ")}, got ${describe(value)}`);
    return undefined;
  }

  message(name: string, spec: FieldSpec): SpecFields {
    return SpecFields.open(this.ctx, this.raw(name), this.at(name), spec);
  }

  /** A list: each element with its path. Absent → []. */
  list(name: string): Item[] {
    if (!this.has(name)) return [];
    const value = this.raw(name);
    if (!Array.isArray(value)) {
      this.error(name, `expected a list, got ${describe(value)}`);
      return [];
    }
    return value.map((element, i) => ({ value: element, path: indexPath(this.at(name), i) }));
  }

  stringList(name: string): string[] {
    const out: string[] = [];
    for (const item of this.list(name)) {
      if (typeof item.value === "string") out.push(item.value);
      else this.ctx.error(item.path, `expected a string, got ${describe(item.value)}`);
    }
    return out;
  }

  /** A map: each entry with its key and path. Absent → []. */
  entries(name: string): Entry<unknown>[] {
    if (!this.has(name)) return [];
    const value = this.raw(name);
    if (!isPlainObject(value)) {
      this.error(name, `expected an object (a map), got ${describe(value)}`);
      return [];
    }
    return Object.entries(value).map(([key, v]) => ({ key, value: v, path: keyPath(this.at(name), key) }));
  }

  /**
   * A map of strings (labels, header values). A number or boolean is refused rather than converted: Kubernetes
   * refuses `version: 1` too, and the fix (quote it) is easy to name.
   */
  stringMap(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const entry of this.entries(name)) {
      if (typeof entry.value === "string") out[entry.key] = entry.value;
      else if (typeof entry.value === "number" || typeof entry.value === "boolean") {
        this.ctx.error(entry.path, `expected a string, got ${describe(entry.value)} (quote it: "${entry.value}")`);
      } else this.ctx.error(entry.path, `expected a string, got ${describe(entry.value)}`);
    }
    return out;
  }
}
