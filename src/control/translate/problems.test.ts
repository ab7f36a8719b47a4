import { test } from "node:test";
import assert from "node:assert/strict";
import { Problems, problemOf } from "./problems.ts";
import { translate } from "./translate.ts";
import { World } from "./world-index.ts";
import { proxyIdentityFromNode } from "./proxy-identity.ts";
import { loadResources } from "../../api/resources/load.ts";

const fromYaml = (text: string) => loadResources(text, "test.yaml").resources;

test("a translation sentence becomes a structured problem: resource, field path, message, code", () => {
  const retry = problemOf(
    'VirtualService default/reviews http[0]: retries.retryOn: condition "bogus" is not supported by the proxy; ignored',
  );
  assert.deepEqual(retry.resource, { kind: "VirtualService", namespace: "default", name: "reviews" });
  assert.equal(retry.path, "spec.http[0].retries.retryOn");
  assert.equal(retry.message, 'condition "bogus" is not supported by the proxy; ignored');
  assert.equal(retry.code, "TRL0002");

  const subset = problemOf(
    "VirtualService default/reviews http[1]: subset v9 of reviews.default.svc.cluster.local is not defined by any DestinationRule",
  );
  assert.equal(subset.code, "IST0101");
  assert.equal(subset.path, "spec.http[1]");

  const delegated = problemOf(
    "VirtualService default/root http[0] (delegate default/d http[1]): destination host x.default.svc.cluster.local matches no service",
  );
  assert.equal(delegated.resource?.name, "root");
  assert.equal(delegated.code, "IST0101");

  const mesh = problemOf("service a.default.svc.cluster.local: UDP port 53 is not supported; left out");
  assert.equal(mesh.resource, undefined);
  assert.equal(mesh.code, "TRL0002");
});

test("Problems keeps sentences and structured problems together, once each", () => {
  const p = new Problems();
  p.add("Sidecar default/s ingress[0]: captureMode IPTABLES is not supported");
  p.add("Sidecar default/s ingress[0]: captureMode IPTABLES is not supported");
  p.add("anything", {
    resource: { kind: "Gateway", namespace: "a", name: "b" },
    path: "spec.servers",
    code: "TRL0001",
  });
  assert.equal(p.list.length, 2);
  assert.equal(p.items.length, 2);
  assert.equal(p.items[1]!.code, "TRL0001");
  assert.equal(p.items[0]!.path, "spec.ingress[0]");
});

test("translate() returns its problems structured, naming the VirtualService", () => {
  const world = World.fromResources(
    fromYaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 10.0.0.1 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews, subset: v9 } }]
    retries: { attempts: 2, retryOn: "5xx,http3-post-connect-failure" }
`),
  );
  const result = translate(world, proxyIdentityFromNode({ id: "p", metadata: { NAMESPACE: "default" } }));
  const about = result.issues.filter((i) => i.resource?.name === "reviews");
  assert.deepEqual(
    about.map((i) => [i.code, i.path]),
    [
      ["IST0101", "spec.http[0]"],
      ["TRL0002", "spec.http[0].retries.retryOn"],
    ],
    result.problems.join("\n"),
  );
});

test("a where that is not a field path stays in the message; a DestinationRule's cluster problem names the rule", () => {
  const p = problemOf(
    "DestinationRule default/reviews cluster outbound|9080|v1|reviews.default.svc.cluster.local: loadBalancer PASSTHROUGH (original destination) is not supported; LEAST_REQUEST used",
  );
  assert.deepEqual(p.resource, { kind: "DestinationRule", namespace: "default", name: "reviews" });
  assert.equal(p.path, undefined);
  assert.match(
    p.message,
    /^cluster outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local: loadBalancer PASSTHROUGH/,
  );
  const delegated = problemOf(
    "VirtualService default/root http[0] (delegate default/d http[1]): retries.retryOn: 42 is not an HTTP status; ignored",
  );
  assert.equal(delegated.path, undefined);
  assert.equal(
    delegated.message,
    "http[0] (delegate default/d http[1]): retries.retryOn: 42 is not an HTTP status; ignored",
  );
});

test("translate() names the DestinationRule whose traffic policy a cluster cannot carry out", () => {
  const world = World.fromResources(
    fromYaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec:
  hosts: [db.default.svc.cluster.local]
  ports: [{ number: 5432, name: tcp, protocol: TCP }]
  resolution: STATIC
  endpoints: [{ address: 10.0.0.9 }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db, namespace: default }
spec:
  host: db
  trafficPolicy:
    loadBalancer: { simple: PASSTHROUGH }
`),
  );
  const result = translate(world, proxyIdentityFromNode({ id: "p", metadata: { NAMESPACE: "default" } }));
  const lb = result.issues.find((i) => i.message.includes("PASSTHROUGH"));
  assert.deepEqual(
    lb?.resource,
    { kind: "DestinationRule", namespace: "default", name: "db" },
    result.problems.join("\n"),
  );
});

test("proxyless: a balancer gRPC cannot run is a problem of the DestinationRule that asks for it", () => {
  const world = World.fromResources(
    fromYaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: greeter, namespace: default }
spec:
  hosts: [greeter.default.svc.cluster.local]
  ports: [{ number: 50051, name: grpc, protocol: GRPC }]
  resolution: STATIC
  endpoints: [{ address: 10.0.0.3 }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: greeter, namespace: default }
spec:
  host: greeter
  trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } }
`),
  );
  const client = proxyIdentityFromNode({ id: "g", metadata: { NAMESPACE: "default", GENERATOR: "grpc" } });
  const result = translate(world, client);
  const lb = result.issues.find((i) => i.message.includes("gRPC has no LEAST_REQUEST balancer"));
  assert.deepEqual(
    lb?.resource,
    { kind: "DestinationRule", namespace: "default", name: "greeter" },
    result.problems.join("\n"),
  );
});
