// Test helpers for the parser's tests: catch a ConfigError and compare its issues.

import assert from "node:assert/strict";
import { ConfigError } from "../../errors.ts";
import type { ConfigIssue } from "../../errors.ts";

/** The issues of the ConfigError that `run` throws (fails the test if it throws nothing or something else). */
export function issuesOf(run: () => unknown): ConfigIssue[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return assert.fail("expected a ConfigError");
}

/** Exactly these issues, in order; a string message must match exactly, a RegExp must match. */
export function assertIssues(run: () => unknown, expected: [path: string, message: string | RegExp][]): void {
  const issues = issuesOf(run);
  const shown = JSON.stringify(issues, null, 1);
  assert.equal(issues.length, expected.length, `issue count; got ${shown}`);
  expected.forEach(([path, message], i) => {
    assert.equal(issues[i].path, path, `issue ${i} path; got ${shown}`);
    if (typeof message === "string") assert.equal(issues[i].message, message, `issue ${i}; got ${shown}`);
    else assert.match(issues[i].message, message, `issue ${i}; got ${shown}`);
  });
}
