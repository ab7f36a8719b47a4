import { test } from "node:test";
import assert from "node:assert/strict";
import { adsClientConstructor } from "../../src/control/xds/ads-proto.ts";
import { readEnvelope } from "./envelope-client.ts";

test("the envelope of a DiscoveryResponse is read and its resources skipped", () => {
  const method = adsClientConstructor().service.StreamAggregatedResources!;
  const bytes = method.responseSerialize({
    version_info: "v-12",
    resources: [{ type_url: "type.googleapis.com/x", value: Buffer.alloc(300_000, 7) }],
    type_url: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    nonce: "abc-1",
    control_plane: { identifier: "trellis" },
  });
  assert.deepEqual(readEnvelope(bytes), {
    version_info: "v-12",
    type_url: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    nonce: "abc-1",
  });
});
