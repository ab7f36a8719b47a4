import { test } from "node:test";
import assert from "node:assert/strict";
import { LayeredMap } from "./layered-map.ts";
import { prepareSnapshot } from "./prepared.ts";

test("a layered map reads as the base with the overlay on top", () => {
  const base = new Map([
    ["a", 1],
    ["b", 2],
  ]);
  const m = new LayeredMap(
    base,
    new Map([
      ["b", 20],
      ["c", 3],
    ]),
  );
  assert.equal(m.size, 3);
  assert.equal(m.get("b"), 20);
  assert.equal(m.get("a"), 1);
  assert.equal(m.has("c"), true);
  assert.equal(m.has("z"), false);
  assert.deepEqual(
    [...m],
    [
      ["a", 1],
      ["b", 20],
      ["c", 3],
    ],
  );
  assert.deepEqual([...m.keys()], ["a", "b", "c"]);
  assert.deepEqual([...m.values()], [1, 20, 3]);
});

test("a layered type is prepared from its base's shared preparation, and its version follows both layers", () => {
  const type = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  const base = new Map([["shared", { name: "shared" }]]);
  const one = prepareSnapshot(new Map([[type, new LayeredMap(base, new Map([["own", { name: "own", x: 1 }]]))]]));
  const two = prepareSnapshot(new Map([[type, new LayeredMap(base, new Map([["own", { name: "own", x: 2 }]]))]]));
  const same = prepareSnapshot(new Map([[type, new LayeredMap(base, new Map([["own", { name: "own", x: 1 }]]))]]));
  assert.equal(one.get(type)!.resources.size, 2);
  assert.equal(one.get(type)!.resources.get("shared")!.version, two.get(type)!.resources.get("shared")!.version);
  assert.notEqual(one.get(type)!.version, two.get(type)!.version);
  assert.equal(one.get(type)!.version, same.get(type)!.version, "same content, same version");
});
