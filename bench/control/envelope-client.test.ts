import { test } from "node:test";
import assert from "node:assert/strict";
import { adsClientConstructor } from "../../src/control/xds/ads-proto.ts";
import { grpcFrame } from "../../src/control/xds/preframed.ts";
import { EnvelopeScanner, type Envelope } from "./envelope-scanner.ts";

test("envelopes are read off a gRPC stream's bytes however they are split, the resources skipped", () => {
  const method = adsClientConstructor().service.StreamAggregatedResources!;
  const responses = [1, 2, 3].map((i) =>
    method.responseSerialize({
      version_info: `v-${i}`,
      resources: [{ type_url: "type.googleapis.com/x", value: Buffer.alloc(3000 * i, 7) }],
      canary: i === 2,
      type_url: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
      nonce: `nonce-${i}`,
      control_plane: { identifier: "trellis" },
    }),
  );
  const bytes = Buffer.concat(responses.map(grpcFrame));
  const expected = [1, 2, 3].map((i) => ({
    version_info: `v-${i}`,
    type_url: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    nonce: `nonce-${i}`,
  }));
  // Every split size from 1 byte up: headers, varints and strings straddle chunks somewhere.
  for (const size of [1, 2, 3, 5, 7, 16, 100, 4096, bytes.length]) {
    const got: Envelope[] = [];
    const scanner = new EnvelopeScanner((e) => got.push(e));
    for (let at = 0; at < bytes.length; at += size) scanner.push(bytes.subarray(at, at + size));
    assert.deepEqual(got, expected, `chunks of ${size}`);
  }
});
