// Capture mode's edges that the golden files do not show: how INTERCEPTION_MODE is read, TPROXY refused, the outbound
// key, the inbound chains of a transparent instance, and explicit mode's reports of what needs capture.

import { test } from "node:test";
import assert from "node:assert/strict";
import { loadResources } from "../../api/resources/load.ts";
import type { Json } from "./envoy.ts";
import { isCaptureMode, proxyIdentityFromNode } from "./proxy-identity.ts";
import { toService } from "./testing.ts";
import { translate } from "./translate.ts";
import { World } from "./world-index.ts";

const node = (metadata: Record<string, unknown>) =>
  proxyIdentityFromNode({
    id: "web-1",
    metadata: { NAMESPACE: "default", SERVICE: "web", INSTANCE_IPS: "10.250.0.2", ...metadata },
  });

const web = toService({
  hostname: "web.default.svc.cluster.local",
  ports: [
    { name: "http", number: 8080, protocol: "HTTP" },
    { name: "tcp", number: 9000, protocol: "TCP" },
  ],
  instances: [
    {
      address: "10.250.0.2",
      ports: { http: { appPort: 8080 }, tcp: { appPort: 9000 } },
      labels: {},
      weight: 1,
      hasSidecar: false,
    },
  ],
});

test("INTERCEPTION_MODE: REDIRECT (any case) is capture mode; NONE, absent or unknown values are explicit", () => {
  assert.equal(isCaptureMode(node({ INTERCEPTION_MODE: "REDIRECT" })), true);
  assert.equal(isCaptureMode(node({ INTERCEPTION_MODE: "redirect" })), true);
  for (const mode of [undefined, "NONE", "", 7, "SOMETHING"]) {
    assert.equal(isCaptureMode(node(mode === undefined ? {} : { INTERCEPTION_MODE: mode })), false, String(mode));
  }
  assert.equal(node({ INTERCEPTION_MODE: "TPROXY" }).interceptionMode, "TPROXY");
});

test("capture and explicit proxies of one namespace do not share an outbound translation", () => {
  const world = new World({ registered: [web] });
  assert.notEqual(world.outboundKey(node({ INTERCEPTION_MODE: "REDIRECT" })), world.outboundKey(node({})));
});

test("TPROXY is refused: a problem naming the proxy, and explicit mode's listeners", () => {
  const world = new World({ registered: [web] });
  const result = translate(world, node({ INTERCEPTION_MODE: "TPROXY" }));
  assert.ok(
    result.problems.includes(
      "proxy web-1: INTERCEPTION_MODE TPROXY is not supported (REDIRECT is); it gets explicit mode's listeners",
    ),
    result.problems.join("\n"),
  );
  assert.deepEqual(
    result.listeners.map((l) => l.name),
    translate(world, node({})).listeners.map((l) => l.name),
  );
  assert.equal(result.nameTable, undefined);
});

test("virtualInbound: a chain per port the transparent instance declares, to 127.0.0.1:<port>; the rest passes through", () => {
  const world = new World({ registered: [web] });
  const result = translate(world, node({ INTERCEPTION_MODE: "REDIRECT" }));
  const inbound = result.listeners.find((l) => l.name === "virtualInbound")!;
  const chains = inbound.filter_chains as Json[];
  assert.deepEqual(
    chains.map((c) => (c.filter_chain_match as Json).destination_port),
    [8080, 9000],
  );
  const cluster = (name: string) => result.clusters.find((c) => c.name === name);
  assert.deepEqual((cluster("inbound|8080||")!.load_assignment as Json).endpoints, [
    { lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: 8080 } } } }] },
  ]);
  assert.equal(cluster("InboundPassthroughCluster")?.type, "ORIGINAL_DST");
  assert.deepEqual(
    (inbound.default_filter_chain as { filters: { typed_config: Json }[] }).filters[0]!.typed_config.cluster,
    "InboundPassthroughCluster",
  );
  // Callers reach the instance at its address and the port it declares (no sidecarPort): the endpoint says so.
  const cla = result.endpoints.find((e) => e.cluster_name === "outbound|9000||web.default.svc.cluster.local");
  assert.deepEqual(cla?.endpoints, [
    { lb_endpoints: [{ endpoint: { address: { socket_address: { address: "10.250.0.2", port_value: 9000 } } } }] },
  ]);
});

test("what needs capture stays reported for explicit proxies and works for capture-mode ones", () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: any-pg }
spec:
  hosts: [pg.external]
  ports: [{ number: 5432, name: tcp, protocol: TCP }]
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web.default.svc.cluster.local
  trafficPolicy: { loadBalancer: { simple: PASSTHROUGH } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: any-pg }
spec:
  hosts: [pg.external]
  tcp:
  - match: [{ destinationSubnets: [10.70.0.0/16] }]
    route: [{ destination: { host: web.default.svc.cluster.local, port: { number: 9000 } } }]
`;
  const world = World.fromResources(loadResources(yaml, "t.yaml").resources, [web]);
  const explicit = translate(world, node({}));
  const capture = translate(world, node({ INTERCEPTION_MODE: "REDIRECT" }));
  const needsCapture = [
    /ServiceEntry default\/any-pg resolution: NONE \(passthrough to the original destination\) is not supported/,
    /DestinationRule default\/web cluster outbound\|8080\|\|web\.default\.svc\.cluster\.local: loadBalancer PASSTHROUGH \(original destination\) is not supported/,
  ];
  for (const re of needsCapture) {
    assert.ok(
      explicit.problems.some((p) => re.test(p)),
      `explicit: ${re}\n${explicit.problems.join("\n")}`,
    );
    assert.ok(!capture.problems.some((p) => re.test(p)), `capture: ${re}\n${capture.problems.join("\n")}`);
  }
  assert.equal(capture.clusters.find((c) => c.name === "outbound|5432||pg.external")?.type, "ORIGINAL_DST");
  assert.equal(
    capture.clusters.find((c) => c.name === "outbound|8080||web.default.svc.cluster.local")?.type,
    "ORIGINAL_DST",
  );
  const pg = capture.listeners.find((l) => l.name === "0.0.0.0_5432")!;
  const subnetChain = (pg.filter_chains as Json[]).find((c) => c.filter_chain_match !== undefined)!;
  assert.deepEqual(subnetChain.filter_chain_match, {
    prefix_ranges: [{ address_prefix: "10.70.0.0", prefix_len: 16 }],
  });
  assert.equal(
    explicit.listeners.some((l) => String(l.name).includes("5432")),
    false,
  );
});

test("virtualInbound with several sniffed ports: its inspectors are on for those ports only (not_match of an or_match)", () => {
  const mixed = toService({
    hostname: "web.default.svc.cluster.local",
    ports: [
      { name: "smtp", number: 25, protocol: "TCP" },
      { name: "admin", number: 9000, protocol: "AUTO" },
      { name: "metrics", number: 7070, protocol: "AUTO" },
    ],
    instances: [
      {
        address: "10.250.0.2",
        ports: { smtp: { appPort: 25 }, admin: { appPort: 9000 }, metrics: { appPort: 7070 } },
        labels: {},
        weight: 1,
        hasSidecar: false,
      },
    ],
  });
  const result = translate(new World({ registered: [mixed] }), node({ INTERCEPTION_MODE: "REDIRECT" }));
  const inbound = result.listeners.find((l) => l.name === "virtualInbound")!;
  const filters = inbound.listener_filters as Json[];
  const onlySniffed = {
    not_match: {
      or_match: {
        rules: [
          { destination_port_range: { start: 7070, end: 7071 } },
          { destination_port_range: { start: 9000, end: 9001 } },
        ],
      },
    },
  };
  assert.deepEqual(
    filters.map((f) => [f.name, f.filter_disabled]),
    [
      ["envoy.filters.listener.original_dst", undefined],
      ["envoy.filters.listener.tls_inspector", onlySniffed],
      ["envoy.filters.listener.http_inspector", onlySniffed],
    ],
  );
});

test("virtualInbound without a sniffed port has no inspectors to disable", () => {
  const result = translate(new World({ registered: [web] }), node({ INTERCEPTION_MODE: "REDIRECT" }));
  const inbound = result.listeners.find((l) => l.name === "virtualInbound")!;
  assert.deepEqual(
    (inbound.listener_filters as Json[]).map((f) => f.name),
    ["envoy.filters.listener.original_dst"],
  );
});
