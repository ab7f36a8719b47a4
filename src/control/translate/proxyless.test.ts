// Who is proxyless: Istio's GENERATOR=grpc metadata, or a gRPC library's user agent; never Envoy or the sidecar.

import { test } from "node:test";
import assert from "node:assert/strict";
import { proxyIdentityFromNode } from "./proxy-identity.ts";

test("a node is proxyless by GENERATOR=grpc or a gRPC user agent, not as Envoy or the Trellis sidecar", () => {
  const of = (metadata: Record<string, unknown>, userAgentName?: string) =>
    proxyIdentityFromNode({ id: "n", metadata, ...(userAgentName !== undefined ? { userAgentName } : {}) }).proxyless;
  assert.equal(of({ GENERATOR: "grpc" }), true);
  assert.equal(of({}, "gRPC Node Pure JS"), true);
  assert.equal(of({}, "gRPC Go"), true);
  assert.equal(of({}, "envoy"), undefined);
  assert.equal(of({}, "trellis"), undefined);
  assert.equal(of({ GENERATOR: "envoy" }), undefined);
});
