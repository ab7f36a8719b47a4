// Fuzzing the readers with a seeded PRNG: every good fixture, with one to three of its values replaced by something
// of another shape (null, a number, a negative, a huge string, a list, an object, a duration-looking string…) or a
// key renamed. For every input:
//   - nothing but ResourceValidationError is ever thrown;
//   - what is accepted serialises to YAML that reads back to the same resources, with no warning not given before.
// FUZZ_SEED=<n> replays a run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { loadResources, validateResources } from "./load.ts";
import { ResourceValidationError } from "./errors.ts";
import { serializeResource } from "./serialize.ts";
import { mulberry32 } from "../random.ts";

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : 0x15_7105;
const CASES = 1500;
const rand = mulberry32(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

const REPLACEMENTS: unknown[] = [
  null,
  0,
  -1,
  1.5,
  65_536,
  1e300,
  "",
  "x".repeat(300),
  "1s",
  "-5s",
  "100us",
  "*",
  "a/b",
  "UPPER",
  true,
  [],
  [null],
  ["v1"],
  {},
  { exact: "x" },
  { value: 150 },
  { number: 80 },
];

const dir = new URL("./testdata/", import.meta.url);
const seeds = readdirSync(dir)
  .filter((n) => n !== "many-errors.yaml")
  .flatMap((name) => parseAllDocuments(readFileSync(new URL(name, dir), "utf8")).map((d) => d.toJS() as unknown))
  .filter((doc) => doc !== null);

/** Every [container, key] in a JSON value, the root's own keys included. */
function slots(value: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      slots(v, out);
    });
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, k]);
      slots(v, out);
    }
  }
  return out;
}

function mutate(doc: unknown): unknown {
  const copy = structuredClone(doc);
  for (let n = 1 + int(3); n > 0; n--) {
    const all = slots(copy);
    if (all.length === 0) break;
    const [container, key] = pick(all);
    if (!Array.isArray(container) && typeof key === "string" && rand() < 0.2) {
      const value = container[key];
      delete container[key];
      container[`${key}${pick(["s", "X", ""])}`] = value;
    } else (container as Record<string | number, unknown>)[key] = structuredClone(pick(REPLACEMENTS));
  }
  return copy;
}

test(`resource readers never crash and accepted resources round-trip (seed ${SEED})`, () => {
  let accepted = 0;
  for (let i = 0; i < CASES; i++) {
    const input = mutate(pick(seeds));
    let loaded;
    try {
      loaded = validateResources([input], "fuzz");
    } catch (error) {
      if (error instanceof ResourceValidationError) {
        assert.ok(error.problems.length > 0);
        continue;
      }
      assert.fail(`case ${i} threw ${String(error)} for ${JSON.stringify(input)}`);
    }
    accepted++;
    const again = loadResources(serializeResource(loaded.resources), "again");
    assert.deepEqual(again.resources, loaded.resources, `case ${i}: ${JSON.stringify(input)}`);
    // Unknown fields and old spellings are gone after a round trip; what remains was said the first time too.
    const said = new Set(loaded.warnings.map((w) => `${w.path}: ${w.message}`));
    for (const w of again.warnings)
      assert.ok(said.has(`${w.path}: ${w.message}`), `case ${i}: new warning ${w.path}: ${w.message}`);
  }
  assert.ok(accepted > CASES / 20, `some mutated resources are still accepted (${accepted})`);
});
