// Golden files: testdata/<case>.yaml (world + proxy) → testdata/<case>.golden.yaml (listeners, routes, clusters,
// endpoints, problems). UPDATE_GOLDEN=1 rewrites them; review the diff like code. Every resource must also parse
// with the proxy's own xDS parsers and encode to protobuf, and every cluster a route names must exist or be
// explained by a problem.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import {
  parseCluster,
  parseClusterLoadAssignment,
  parseListener,
  parseRouteConfiguration,
} from "../../api/xds/parse/index.ts";
import { encodeResource, NAME_TABLE_TYPE_URL, TYPE_URL } from "../../api/xds/wire/codec.ts";
import type { Json } from "./envoy.ts";
import { inlineRds, loadCase, TESTDATA } from "./testing.ts";
import { translate } from "./translate.ts";

const cases = readdirSync(TESTDATA)
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".golden.yaml"))
  .sort();

test("there are at least 20 golden cases", () => {
  assert.ok(cases.length >= 20, `${cases.length} cases`);
});

for (const file of cases) {
  const name = file.slice(0, -".yaml".length);
  test(`golden: ${name}`, () => {
    const { world, proxy } = loadCase(file);
    const result = translate(world, proxy);
    // `issues` are `problems` structured (problems.test.ts covers the structure): the golden file keeps the sentences.
    const { issues, ...golden } = result;
    assert.deepEqual(
      issues.map((i) => i.text),
      result.problems,
    );
    const goldenPath = join(TESTDATA, `${name}.golden.yaml`);
    const text = stringify(golden, { lineWidth: 0 });
    if (process.env.UPDATE_GOLDEN === "1" || !existsSync(goldenPath)) writeFileSync(goldenPath, text);
    assert.deepEqual(
      golden,
      parseYaml(readFileSync(goldenPath, "utf8")),
      `${name}: output differs from the golden file`,
    );
    // Pure: the same inputs give the same output.
    assert.deepEqual(translate(world, proxy), result);
    checkParses(result.listeners, result.routes, result.clusters, result.endpoints);
    if (result.nameTable !== undefined) encodeResource(NAME_TABLE_TYPE_URL, result.nameTable);
    checkReferences(result);
  });
}

function checkParses(listeners: Json[], routes: Json[], clusters: Json[], endpoints: Json[]): void {
  for (const l of listeners) {
    // An api_listener (proxyless gRPC) has no address: it is for gRPC's xDS client, not the sidecar's parser.
    if (l.api_listener === undefined) {
      assert.doesNotThrow(() => parseListener(inlineRds(l, routes)), `listener ${String(l.name)}`);
    }
    encodeResource(TYPE_URL.listener, l);
  }
  for (const r of routes) {
    assert.doesNotThrow(() => parseRouteConfiguration(r), `route ${String(r.name)}`);
    encodeResource(TYPE_URL.routeConfiguration, r);
  }
  for (const c of clusters) {
    assert.doesNotThrow(() => parseCluster(c), `cluster ${String(c.name)}`);
    encodeResource(TYPE_URL.cluster, c);
  }
  for (const e of endpoints) {
    assert.doesNotThrow(() => parseClusterLoadAssignment(e), `endpoints ${String(e.cluster_name)}`);
    encodeResource(TYPE_URL.clusterLoadAssignment, e);
  }
}

/** Every EDS cluster has its assignment; every referenced cluster exists unless a problem names its host. */
function checkReferences(result: ReturnType<typeof translate>): void {
  const names = new Set(result.clusters.map((c) => String(c.name)));
  for (const c of result.clusters) {
    if (c.type === "EDS")
      assert.ok(
        result.endpoints.some((e) => e.cluster_name === c.name),
        `no CLA for ${String(c.name)}`,
      );
  }
  const referenced = new Set<string>();
  const walk = (v: unknown, key: string): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === "cluster" && typeof x === "string") referenced.add(x);
        else if (key === "clusters" && k === "name" && typeof x === "string") referenced.add(x);
        else walk(x, k);
      }
    }
  };
  walk([...result.listeners, ...result.routes], "");
  for (const ref of referenced) {
    if (names.has(ref)) continue;
    const host = ref.split("|")[3] ?? ref;
    assert.ok(
      result.problems.some((p) => p.includes(host)),
      `cluster ${ref} is referenced but not emitted, and no problem explains it`,
    );
  }
}
