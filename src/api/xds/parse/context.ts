// Where parsing is (a field path) and what it found wrong so far. Parsers never stop at the first problem: they
// record an issue, substitute a harmless value and carry on, so one run reports everything that is wrong.

import { ConfigError } from "../../errors.ts";
import type { ConfigIssue } from "../../errors.ts";

/** A cluster name used by a route or a tcp_proxy, with where it was written; checked once all clusters are known. */
export interface ClusterReference {
  path: string;
  cluster: string;
}

export class ParseContext {
  readonly issues: ConfigIssue[] = [];
  readonly clusterReferences: ClusterReference[] = [];

  report(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  referenceCluster(path: string, cluster: string): void {
    this.clusterReferences.push({ path, cluster });
  }

  get failed(): boolean {
    return this.issues.length > 0;
  }

  /** Throws ConfigError(source, every issue) when anything was reported. */
  throwIfFailed(source: string): void {
    if (this.issues.length > 0) throw new ConfigError(source, [...this.issues]);
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

/** A short rendering of a value for "got …" in messages: strings quoted, containers named, never a huge dump. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return String(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
