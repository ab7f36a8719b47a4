import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { loadResources } from "./load.ts";
import { parseAllDocuments } from "yaml";
import { resourceKey, serializeResource, toIstioObject } from "./serialize.ts";

const dir = new URL("./testdata/", import.meta.url);

describe("resourceKey and serializeResource", () => {
  test("the key is Kind/namespace/name", () => {
    const { resources } = loadResources(readFileSync(new URL("virtual-service-all-v1.yaml", dir), "utf8"), "f");
    assert.deepEqual(resources.map(resourceKey), [
      "VirtualService/default/productpage",
      "VirtualService/default/reviews",
      "VirtualService/default/ratings",
      "VirtualService/default/details",
    ]);
  });

  test("YAML the way Istio's users write it: durations as strings, deprecated spellings normalised", () => {
    const { resources } = loadResources(readFileSync(new URL("deprecated-spellings.yaml", dir), "utf8"), "f");
    const yaml = serializeResource(resources[0]);
    assert.match(
      yaml,
      /^apiVersion: networking\.istio\.io\/v1alpha3\nkind: VirtualService\nmetadata:\n {2}name: ratings\n {2}namespace: bookinfo\n/,
    );
    assert.match(yaml, /fixedDelay: 5s\n/);
    assert.match(yaml, /percentage:\n {12}value: 10\n/);
    assert.doesNotMatch(yaml, /percent:|mirrorPercent:|gateways|exportTo/);
    assert.match(
      serializeResource(resources[1]),
      /consecutive5xxErrors: 7\n {6}interval: 5m\n {6}baseEjectionTime: 15m\n/,
    );
  });

  test("every good fixture reads back the same from its own YAML, with no warnings", () => {
    for (const name of readdirSync(dir).filter((n) => n !== "many-errors.yaml")) {
      const { resources } = loadResources(readFileSync(new URL(name, dir), "utf8"), name);
      const again = loadResources(serializeResource(resources), `${name} again`);
      assert.deepEqual(again.warnings, [], name);
      assert.deepEqual(again.resources, resources, name);
    }
  });

  test("a presence header match ({}) survives the round trip", () => {
    const text = JSON.stringify({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "a", resourceVersion: "7" },
      spec: {
        hosts: ["a"],
        http: [{ match: [{ headers: { "x-debug": {} } }], route: [{ destination: { host: "a" } }], timeout: "1500ms" }],
      },
    });
    const { resources } = loadResources(text, "f");
    const yaml = serializeResource(resources[0]);
    assert.match(yaml, /x-debug: \{\}/);
    assert.match(yaml, /timeout: 1500ms/);
    assert.match(yaml, /resourceVersion: "7"/);
    assert.deepEqual(loadResources(yaml, "g").resources, resources);
  });
});

describe("every field is kept", () => {
  test("testdata/every-field.yaml (every field of every kind) serialises back to itself", () => {
    const text = readFileSync(new URL("every-field.yaml", dir), "utf8");
    const { resources, warnings } = loadResources(text, "every-field.yaml");
    assert.deepEqual(warnings, []);
    const written = parseAllDocuments(text).map((d) => d.toJS() as unknown);
    assert.equal(resources.length, written.length);
    resources.forEach((r, i) => assert.deepEqual(toIstioObject(r), written[i], resourceKey(r)));
  });
});
