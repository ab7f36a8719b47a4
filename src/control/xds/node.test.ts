import { test } from "node:test";
import assert from "node:assert/strict";
import { nodeFromWire } from "./node.ts";
import { proxyIdentityFromNode } from "../translate/index.ts";

test("node.locality becomes region/zone/subzone, and the proxy's identity carries it", () => {
  const node = nodeFromWire({ id: "a", locality: { region: "us-east", zone: "1a", sub_zone: "" } });
  assert.equal(node.locality, "us-east/1a");
  assert.equal(proxyIdentityFromNode(node).locality, "us-east/1a");
  assert.equal(nodeFromWire({ id: "b" }).locality, undefined);
  // Without node.locality, metadata LOCALITY (what `trellis proxy --locality` also sends) is read.
  const byMetadata = proxyIdentityFromNode({ id: "c", metadata: { LOCALITY: "eu-west/1b/r2" } });
  assert.equal(byMetadata.locality, "eu-west/1b/r2");
});
