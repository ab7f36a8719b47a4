// What reading one resource found: errors (the resource is refused) and warnings (accepted, but the user should
// know: an unknown field, a deprecated spelling). Readers never stop at the first problem: they record it, use a
// harmless value and go on, so one `apply` names everything that is wrong.

import type { ConfigIssue } from "../errors.ts";

export class ResourceContext {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];

  error(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }
}

/** `parent.key`, or `key` at the root. */
export function childPath(parent: string, key: string): string {
  return parent === "" ? key : `${parent}.${key}`;
}

/** `parent[index]`. */
export function indexPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** `parent["key"]` for map keys that are not identifiers (labels like app.kubernetes.io/name). */
export function keyPath(parent: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? childPath(parent, key) : `${parent}[${JSON.stringify(key)}]`;
}
