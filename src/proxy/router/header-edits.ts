// One level of header edits (a weighted cluster's, a route's, a virtual host's or the route configuration's),
// applied as Envoy's HeaderParser::evaluateHeaders does: removes first; then every value is evaluated against the
// headers as they stand after the removes; then the overwrites are applied, then the appends. The two phases make
// the outcome independent of the order entries are listed in, as in Envoy.
//
// A value that evaluates to "" is not added (Envoy's default, keep_empty_value=false). A level made only of
// constant APPEND_IF_EXISTS_OR_ADD entries, the common case, skips the phases and just appends.

import type { HeaderValueOption } from "../../api/xds/types.ts";
import type { Headers } from "../http/headers.ts";
import { HeaderFormatError, HeaderValueFormat } from "./header-format.ts";
import type { IssueSink } from "./issues.ts";
import type { RouteContext, RouteRequest } from "./request.ts";

const enum Action {
  Append,
  AddIfAbsent,
  OverwriteOrAdd,
  OverwriteIfExists,
}

const ACTIONS: Record<HeaderValueOption["appendAction"], Action> = {
  APPEND_IF_EXISTS_OR_ADD: Action.Append,
  ADD_IF_ABSENT: Action.AddIfAbsent,
  OVERWRITE_IF_EXISTS_OR_ADD: Action.OverwriteOrAdd,
  OVERWRITE_IF_EXISTS: Action.OverwriteIfExists,
};

interface Add {
  readonly key: string;
  readonly value: HeaderValueFormat;
  readonly action: Action;
}

/** The settings formats read that do not change per request. */
export interface FormatEnv {
  hostname: string;
}

// Scratch space for the evaluate-then-apply phases; safe to share because apply() never re-enters itself.
const pendingKeys: string[] = [];
const pendingValues: string[] = [];
const pendingOverwrite: boolean[] = [];

/** Pseudo-headers and Host are not editable through header lists (Envoy's isModifiableHeader). */
function modifiable(name: string): boolean {
  return !name.startsWith(":") && name !== "host";
}

export class HeaderEditLevel {
  private readonly removes: readonly string[];
  private readonly adds: readonly Add[];
  /** Only constant appends: no evaluation phase needed. */
  private readonly simple: boolean;

  private constructor(removes: string[], adds: Add[]) {
    this.removes = removes;
    this.adds = adds;
    this.simple = adds.every((a) => a.action === Action.Append && a.value.constant !== undefined);
  }

  /** Compiles one level; undefined when it edits nothing. Problems are reported to `issues` under `at`. */
  static compile(
    toAdd: readonly HeaderValueOption[],
    toRemove: readonly string[],
    env: FormatEnv,
    issues: IssueSink,
    at: { add: string; remove: string },
  ): HeaderEditLevel | undefined {
    const removes: string[] = [];
    toRemove.forEach((name, i) => {
      const key = name.toLowerCase();
      if (!modifiable(key)) issues.add(`${at.remove}[${i}]`, `${JSON.stringify(name)} cannot be removed`);
      else removes.push(key);
    });
    const adds: Add[] = [];
    toAdd.forEach((h, i) => {
      const key = h.key.toLowerCase();
      if (!modifiable(key)) {
        issues.add(`${at.add}[${i}].header.key`, `${JSON.stringify(h.key)} cannot be modified`);
        return;
      }
      try {
        const value = HeaderValueFormat.parse(h.value, env);
        // A constant empty value is never added: drop it now.
        if (value.constant !== "") adds.push({ key, value, action: ACTIONS[h.appendAction] });
      } catch (err) {
        if (!(err instanceof HeaderFormatError)) throw err;
        issues.add(`${at.add}[${i}].header.value`, err.message);
      }
    });
    return removes.length === 0 && adds.length === 0 ? undefined : new HeaderEditLevel(removes, adds);
  }

  apply(headers: Headers, response: boolean, req: RouteRequest, ctx: RouteContext, cluster: string | undefined): void {
    const removes = this.removes;
    for (let i = 0; i < removes.length; i++) headers.remove(removes[i]!);
    const adds = this.adds;
    if (this.simple) {
      for (let i = 0; i < adds.length; i++) headers.add(adds[i]!.key, adds[i]!.value.constant!);
      return;
    }
    let n = 0;
    for (let i = 0; i < adds.length; i++) {
      const a = adds[i]!;
      const v = a.value.evaluate(headers, response, req, ctx, cluster);
      if (v === "") continue;
      let overwrite: boolean;
      switch (a.action) {
        case Action.Append:
          overwrite = false;
          break;
        case Action.AddIfAbsent:
          if (headers.has(a.key)) continue;
          overwrite = false;
          break;
        case Action.OverwriteIfExists:
          if (!headers.has(a.key)) continue;
          overwrite = true;
          break;
        default:
          overwrite = true;
      }
      pendingKeys[n] = a.key;
      pendingValues[n] = v;
      pendingOverwrite[n] = overwrite;
      n++;
    }
    for (let i = 0; i < n; i++) if (pendingOverwrite[i]) headers.set(pendingKeys[i]!, pendingValues[i]!);
    for (let i = 0; i < n; i++) if (!pendingOverwrite[i]) headers.add(pendingKeys[i]!, pendingValues[i]!);
  }
}

/** Applies levels in order (the caller orders them by Envoy's precedence). */
export function applyLevels(
  levels: readonly HeaderEditLevel[],
  headers: Headers,
  response: boolean,
  req: RouteRequest,
  ctx: RouteContext,
  cluster: string | undefined,
): void {
  for (let i = 0; i < levels.length; i++) levels[i]!.apply(headers, response, req, ctx, cluster);
}
