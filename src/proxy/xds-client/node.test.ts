import { test } from "node:test";
import assert from "node:assert/strict";
import { nodeFromIdentity, nodeMessage } from "./node.ts";

test("a sidecar's locality goes out as metadata LOCALITY and as Envoy's node.locality", () => {
  const node = nodeFromIdentity({ nodeId: "s-1", service: "app", locality: "us-east/1a" });
  assert.equal(node.metadata.LOCALITY, "us-east/1a");
  assert.deepEqual(nodeMessage(node).locality, { region: "us-east", zone: "1a", sub_zone: "" });
  const without = nodeFromIdentity({ nodeId: "s-2" });
  assert.equal(without.metadata.LOCALITY, undefined);
  assert.equal(nodeMessage(without).locality, undefined);
});
