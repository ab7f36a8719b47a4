import { test } from "node:test";
import assert from "node:assert/strict";
import { loadResources } from "../api/resources/load.ts";
import type { Resource } from "../api/resources/types.ts";
import { proxyIdentityFromNode } from "./translate/proxy-identity.ts";
import { clusterIsForHost, notEnforced, selectsProxy } from "./unenforced.ts";

const load = (text: string): Resource[] => loadResources(text, "t.yaml").resources;

const proxy = (namespace: string, labels: Record<string, string>, service?: string) =>
  proxyIdentityFromNode({
    id: `${namespace}-${labels.app ?? "x"}`,
    metadata: { NAMESPACE: namespace, LABELS: labels, ...(service !== undefined && { SERVICE: service }) },
  });

const never = { rootNamespace: "istio-system", reachesHost: () => false };

test("each kind translation does not read is reported once, with why and the issue that brings it", () => {
  const resources = load(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt }
spec:
  jwtRules: [{ issuer: "https://issuer.example.com", jwksUri: "https://issuer.example.com/jwks" }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing: [{ randomSamplingPercentage: 10 }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ingress }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-all }
spec: {}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: r }
spec:
  hosts: [r]
  http: [{ route: [{ destination: { host: r } }] }]
`);
  const found = resources.flatMap(notEnforced);
  assert.deepEqual(
    found.map((p) => [p.code, p.resource?.kind, p.path, /#(\d+)/.exec(p.message)?.[1]]),
    [
      ["TRL0001", "PeerAuthentication", "spec", "12"],
      ["TRL0001", "RequestAuthentication", "spec", "12"],
      ["TRL0001", "Telemetry", "spec", "13"],
      ["TRL0001", "AuthorizationPolicy", "spec", "12"],
    ],
  );
  for (const p of found) {
    assert.match(p.message, /^stored, not enforced yet: /);
    assert.ok(p.text.startsWith(`${p.resource!.kind} ${p.resource!.namespace}/${p.resource!.name}: stored`), p.text);
  }
});

test("policies select by namespace (the root namespace's reach all), selector labels and targetRefs", () => {
  const [ns, selected, root, targeted] = load(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ns, namespace: shop }
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: selected, namespace: shop }
spec: { selector: { matchLabels: { app: cart } } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: root, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: targeted, namespace: shop }
spec: { targetRefs: [{ kind: Service, group: "", name: orders }] }
`) as [Resource, Resource, Resource, Resource];
  const cart = proxy("shop", { app: "cart" }, "cart");
  const orders = proxy("shop", { app: "orders" }, "orders");
  const elsewhere = proxy("web", { app: "cart" }, "cart");
  const sel = (r: Resource) => [cart, orders, elsewhere].map((p) => selectsProxy(r, p, never));
  assert.deepEqual(sel(ns), [true, true, false]);
  assert.deepEqual(sel(selected), [true, false, false]);
  assert.deepEqual(sel(root), [true, true, true]);
  assert.deepEqual(sel(targeted), [false, true, false]);
});

test("a Gateway is enforced (gateway proxies listen for it): not reported, and selects no proxy here", () => {
  const [gw] = load(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ingress }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }]
`) as [Resource];
  assert.deepEqual(notEnforced(gw), []);
  assert.equal(selectsProxy(gw, proxy("istio-system", { istio: "ingressgateway" }), never), false);
});

test("DestinationRule tls: modes that ask for TLS, with their paths; DISABLE is what the proxy does; reach by cluster", () => {
  const [dr, plain] = load(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy:
    tls: { mode: DISABLE }
    portLevelSettings:
    - port: { number: 9080 }
      tls: { mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy:
      portLevelSettings:
      - port: { number: 9443 }
        tls: { mode: ISTIO_MUTUAL }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: plain }
spec:
  host: plain
  trafficPolicy: { tls: { mode: DISABLE } }
`) as [Resource, Resource];
  assert.deepEqual(
    notEnforced(dr).map((p) => [p.path, /tls mode (\w+)/.exec(p.message)?.[1]]),
    [
      ["spec.trafficPolicy.portLevelSettings[0].tls", "MUTUAL"],
      ["spec.subsets[0].trafficPolicy.portLevelSettings[0].tls", "ISTIO_MUTUAL"],
    ],
  );
  assert.deepEqual(notEnforced(plain), []);
  const reaches = {
    rootNamespace: "istio-system",
    reachesHost: (_: unknown, host: string) =>
      clusterIsForHost("outbound|9080|v1|reviews.default.svc.cluster.local", host),
  };
  assert.equal(selectsProxy(dr, proxy("default", {}), reaches), true);
  assert.equal(selectsProxy(dr, proxy("default", {}), never), false);
  assert.equal(selectsProxy(plain, proxy("default", {}), reaches), false);
});

test("a VirtualService bound to gateways is enforced (by gateway proxies), with or without mesh", () => {
  const [only, both, mesh] = load(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: only }
spec:
  hosts: [bookinfo.example.com]
  gateways: [bookinfo-gateway]
  http: [{ route: [{ destination: { host: productpage } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: both }
spec:
  hosts: [reviews]
  gateways: [mesh, istio-system/edge]
  http: [{ route: [{ destination: { host: reviews } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: mesh }
spec:
  hosts: [ratings]
  gateways: [mesh]
  http: [{ route: [{ destination: { host: ratings } }] }]
`) as [Resource, Resource, Resource];
  assert.deepEqual(notEnforced(only), []);
  assert.deepEqual(notEnforced(both), []);
  assert.deepEqual(notEnforced(mesh), []);
});
