// The conversion and the gateway's translation never throw on Gateway API resources that load: the fixtures of every
// Gateway API field and the conversion's test files, with one to three values replaced (seeded; FUZZ_SEED=<n>
// replays a run), loaded, and every one that is accepted converted and translated for a router that runs it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { validateResources } from "../../api/resources/load.ts";
import { ResourceValidationError } from "../../api/resources/errors.ts";
import type { Resource } from "../../api/resources/types.ts";
import { mulberry32 } from "../../api/random.ts";
import { World } from "../translate/world-index.ts";
import { translate } from "../translate/translate.ts";
import { proxyIdentityFromNode } from "../translate/proxy-identity.ts";
import { convertGatewayApi } from "./convert.ts";
import { generatedParents } from "./parents.ts";

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : 0x6a7e;
const CASES = 300;
const rand = mulberry32(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const REPLACEMENTS: unknown[] = [null, 0, 1, 80, 65_535, "", "/", "*", "*.example.com", "a", "All", "Same", [], {}];

const files = [
  join(import.meta.dirname, "../../api/resources/testdata/gateway-api.yaml"),
  ...readdirSync(join(import.meta.dirname, "testdata"))
    .filter((f) => f.endsWith(".yaml") && !f.endsWith(".golden.yaml"))
    .map((f) => join(import.meta.dirname, "testdata", f)),
];
const seeds = files.map((f) =>
  parseAllDocuments(readFileSync(f, "utf8"))
    .map((d) => d.toJS() as unknown)
    .filter((d) => d !== null),
);

/** Every [container, key] in a JSON value. */
function slots(value: unknown, out: [Record<string | number, unknown>, string | number][] = []) {
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : typeof value === "object" && value !== null
      ? Object.entries(value)
      : [];
  for (const [k, v] of entries) {
    out.push([value as Record<string | number, unknown>, k]);
    slots(v, out);
  }
  return out;
}

test(`the conversion and the gateway's translation never throw on what loads (seed ${SEED})`, () => {
  let converted = 0;
  for (let i = 0; i < CASES; i++) {
    const docs = structuredClone(pick(seeds));
    for (let n = 1 + int(3); n > 0; n--) {
      const [container, key] = pick(slots(docs));
      container[key] = structuredClone(pick(REPLACEMENTS));
    }
    const resources: Resource[] = [];
    // Each document on its own, as analyze reads a file: one bad document leaves the others.
    for (const d of docs) {
      try {
        resources.push(...validateResources([d], "fuzz").resources);
      } catch (error) {
        if (!(error instanceof ResourceValidationError)) throw error;
      }
    }
    try {
      const conversion = convertGatewayApi(resources, { hasService: () => rand() < 0.5 });
      generatedParents(resources);
      const world = World.fromResources(resources);
      for (const gw of conversion.gateways) {
        const identity = proxyIdentityFromNode({
          id: `router-${i}`,
          metadata: { LABELS: gw.spec.selector, NAMESPACE: gw.metadata.namespace, TRELLIS_NODE_TYPE: "router" },
        });
        translate(world, identity);
      }
      converted += conversion.virtualServices.length > 0 ? 1 : 0;
    } catch (error) {
      assert.fail(`case ${i} threw ${(error as Error).stack} for ${JSON.stringify(docs)}`);
    }
  }
  assert.ok(converted > CASES / 20, `some mutated files still convert routes (${converted})`);
});
