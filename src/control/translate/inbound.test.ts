import { test } from "node:test";
import assert from "node:assert/strict";
import { inboundPorts, inboundResources } from "./inbound.ts";
import { Problems } from "./problems.ts";
import { proxyIdentityFromNode } from "./proxy-identity.ts";
import { World } from "./world-index.ts";

test("a registered sidecar's inbound listener binds the address the registry gave, not the host's first IP", () => {
  const world = World.fromResources(
    [],
    [
      {
        hostname: "reviews.default.svc.cluster.local",
        namespace: "default",
        ports: [{ name: "http", number: 9081, protocol: "HTTP" }],
        resolution: "STATIC",
        exportTo: [],
        instances: [
          {
            address: "127.0.0.1",
            ports: { http: { appPort: 9081, sidecarPort: 15106 } },
            labels: {},
            weight: 1,
            hasSidecar: true,
            nodeId: "reviews-v1",
          },
        ],
      },
    ],
  );
  // A machine with a LAN address: the sidecar's INSTANCE_IPS start with it.
  const proxy = proxyIdentityFromNode({
    id: "reviews-v1",
    metadata: { SERVICE: "reviews", NAMESPACE: "default", INSTANCE_IPS: "192.168.1.20" },
  });
  const problems = new Problems();
  const ports = inboundPorts(world, proxy, problems);
  const { listeners } = inboundResources(ports, proxy, problems);
  assert.deepEqual(problems.list, []);
  assert.deepEqual(
    listeners.map((l) => [l.name, (l.address as { socket_address: unknown }).socket_address]),
    [["inbound-15106", { address: "127.0.0.1", port_value: 15106 }]],
  );
});
