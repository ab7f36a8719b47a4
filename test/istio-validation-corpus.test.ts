// The Istio validation corpus: test/corpus/istio-validation/<kind>/<case>.yaml, our own documents written the way
// Istio's docs and samples write them, each with its verdict in header comments:
//
//   # verdict: valid | invalid
//   # error: <text>      one line per problem expected (invalid): the problem's "path: message" contains the text
//   # warning: <text>    one line per warning expected (valid): the warning's "path: message" contains the text
//
// Every file goes through loadResources, as `trellis apply` reads it. The counts are exact: a valid case has no
// warning it does not list, an invalid one no problem it does not list. Warnings that a kind or field is stored but
// not enforced yet (the "say so" of kinds a later issue enforces) are left out of the count: they are tested where
// they are made, and they come and go as enforcement lands.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { loadResources } from "../src/api/resources/load.ts";
import { ResourceValidationError } from "../src/api/resources/errors.ts";

const ROOT = join(import.meta.dirname, "corpus", "istio-validation");
const NOT_ENFORCED = /not (yet )?enforced|enforced yet/i;

interface Expectation {
  verdict: "valid" | "invalid";
  errors: string[];
  warnings: string[];
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)]))
    .filter((file) => file.endsWith(".yaml"))
    .sort();
}

function expectation(text: string, file: string): Expectation {
  const out: Expectation = { verdict: "valid", errors: [], warnings: [] };
  let verdict: string | undefined;
  for (const line of text.split("\n")) {
    const m = /^# (verdict|error|warning): (.*)$/.exec(line);
    if (m === null) continue;
    if (m[1] === "verdict") verdict = m[2]!.trim();
    else if (m[1] === "error") out.errors.push(m[2]!);
    else out.warnings.push(m[2]!);
  }
  assert.ok(verdict === "valid" || verdict === "invalid", `${file}: a "# verdict: valid|invalid" line`);
  out.verdict = verdict;
  if (verdict === "invalid") assert.ok(out.errors.length > 0, `${file}: an invalid case lists its errors`);
  else assert.equal(out.errors.length, 0, `${file}: a valid case lists no errors`);
  return out;
}

/** Each expected text matched by a different line, in any order. */
function assertMatches(kind: string, lines: string[], expected: string[], file: string): void {
  const shown = `${file}: got ${kind}s\n  ${lines.join("\n  ") || "(none)"}`;
  assert.equal(lines.length, expected.length, `${kind} count; ${shown}`);
  const left = [...lines];
  for (const text of expected) {
    const i = left.findIndex((line) => line.includes(text));
    assert.ok(i >= 0, `expected a ${kind} containing ${JSON.stringify(text)}; ${shown}`);
    left.splice(i, 1);
  }
}

const all = files(ROOT);
const kinds = new Map<string, number>();
for (const file of all) {
  const kind = /^(?:apiVersion: \S+\n)?kind: (\w+)$/m.exec(readFileSync(file, "utf8"))?.[1] ?? "?";
  kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
}

describe("Istio validation corpus", () => {
  test("at least 60 cases, covering every kind Trellis holds", () => {
    assert.ok(all.length >= 60, `${all.length} cases`);
    for (const kind of [
      "VirtualService",
      "DestinationRule",
      "ServiceEntry",
      "Gateway",
      "Sidecar",
      "WorkloadEntry",
      "PeerAuthentication",
      "AuthorizationPolicy",
      "RequestAuthentication",
      "Telemetry",
    ]) {
      assert.ok((kinds.get(kind) ?? 0) >= 3, `at least 3 cases of ${kind}, got ${kinds.get(kind) ?? 0}`);
    }
  });

  for (const file of all) {
    const name = relative(ROOT, file);
    test(name, () => {
      const text = readFileSync(file, "utf8");
      const expected = expectation(text, name);
      let result: ReturnType<typeof loadResources> | undefined;
      let problems: string[] = [];
      try {
        result = loadResources(text, name);
      } catch (error) {
        if (!(error instanceof ResourceValidationError)) throw error;
        problems = error.problems.map((p) => `${p.path}: ${p.message}`);
      }
      if (expected.verdict === "valid") {
        assert.ok(result !== undefined, `${name}: expected valid, got problems\n  ${problems.join("\n  ")}`);
        assert.ok(result.resources.length > 0, `${name}: at least one resource`);
        assertMatches(
          "warning",
          result.warnings.filter((w) => !NOT_ENFORCED.test(w.message)).map((w) => `${w.path}: ${w.message}`),
          expected.warnings,
          name,
        );
      } else {
        assert.equal(result, undefined, `${name}: expected invalid, but it was accepted`);
        assertMatches("problem", problems, expected.errors, name);
      }
    });
  }
});
