import { test } from "node:test";
import assert from "node:assert/strict";
import { loadResources } from "../api/resources/load.ts";
import { analyze } from "./analyze/analyze.ts";
import {
  offlineFindings,
  problemFindings,
  reportProblems,
  representatives,
  severityOf,
  statusOf,
  translateViews,
  warningLine,
  type ProxyView,
} from "./problem-report.ts";
import { proxyIdentityFromNode, translateOutbound, World } from "./translate/index.ts";

const MESH = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ratings, namespace: shop }
spec:
  hosts: [ratings.shop.svc.cluster.local]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 10.0.0.7 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: shop }
spec:
  hosts: [ratings]
  http:
  - route: [{ destination: { host: ratings, subset: v9 } }]
  - route: [{ destination: { host: ratings, port: { number: 9999 } } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: cart-only, namespace: shop }
spec: { selector: { matchLabels: { app: cart } } }
`;

const resources = loadResources(MESH, "mesh.yaml").resources;
const world = World.fromResources(resources);

const connected = (id: string, namespace: string, labels: Record<string, string>): ProxyView => ({
  id,
  identity: proxyIdentityFromNode({ id, metadata: { NAMESPACE: namespace, LABELS: labels } }),
  representative: false,
});

test("a representative sidecar stands in for each namespace with no connected proxy", () => {
  const cart = connected("cart-1", "shop", { app: "cart" });
  assert.deepEqual(
    representatives(["web", "shop", "web", "api"], [cart]).map((v) => [v.id, v.identity.namespace, v.representative]),
    [
      ["namespace/api", "api", true],
      ["namespace/web", "web", true],
    ],
  );
});

test("the report merges one problem found for several proxies and gives each proxy its own list", () => {
  const views = [connected("cart-1", "shop", { app: "cart" }), connected("orders-1", "shop", { app: "orders" })];
  const translated = translateViews(world, views);
  const report = reportProblems(resources, views, (v) => translated.get(v.id)!, "istio-system");
  const subset = report.problems.find((p) => p.message.includes("subset v9"))!;
  assert.deepEqual(subset.proxies, ["cart-1", "orders-1"]);
  assert.equal(subset.code, "IST0101");
  const policy = report.problems.find((p) => p.resource?.kind === "AuthorizationPolicy")!;
  assert.deepEqual(policy.proxies, ["cart-1"]);
  assert.ok(report.perProxy.get("cart-1")!.some((p) => p.text === policy.text));
  assert.ok(!report.perProxy.get("orders-1")!.some((p) => p.resource?.kind === "AuthorizationPolicy"));
  assert.match(warningLine(subset), /\(IST0101 ReferencedResourceNotFound; for proxy cart-1, proxy orders-1\)$/);
  assert.match(warningLine(policy), /\(TRL0001 NotEnforced; selects proxy cart-1\)$/);
});

test("analyze gets one finding per cause: what its own checks explain is not repeated, the rest is added", () => {
  const views = representatives(["shop"], []);
  const translated = translateViews(world, views);
  const report = reportProblems(resources, views, (v) => translated.get(v.id)!, "istio-system");
  const own = analyze({ resources, services: world.services });
  const added = problemFindings(report.problems, own);
  const vs = added.filter((f) => f.resource === "VirtualService/shop/ratings");
  // The subset is analyze's own IST0101; the port only translation finds.
  assert.deepEqual(
    vs.map((f) => [f.level, f.code, /^(\S+): /.exec(f.message)?.[1]]),
    [["Error", "IST0101", "spec.http[1]"]],
  );
  assert.match(
    vs[0]!.message,
    /destination port 9999 is not a port of ratings\.shop\.svc\.cluster\.local \(for a sidecar in namespace shop\)$/,
  );
});

test("statusOf: Istio's validation messages for one resource; none without problems", () => {
  const views = representatives(["shop"], []);
  const translated = translateViews(world, views);
  const report = reportProblems(resources, views, (v) => translated.get(v.id)!, "istio-system");
  const status = statusOf({ kind: "AuthorizationPolicy", namespace: "shop", name: "cart-only" }, report.problems);
  assert.deepEqual(
    status?.validationMessages.map((m) => [m.type, m.level]),
    [[{ code: "TRL0001", name: "NotEnforced" }, "WARNING"]],
  );
  assert.equal(statusOf({ kind: "ServiceEntry", namespace: "shop", name: "ratings" }, report.problems), undefined);
});

test("offline findings: what is not enforced and what translation leaves out, not unresolved references", () => {
  const findings = offlineFindings(resources);
  assert.deepEqual(
    findings.map((f) => [f.code, f.resource]),
    [["TRL0001", "AuthorizationPolicy/shop/cart-only"]],
  );
});

test("a ServiceEntry's translation problems name it and the port, so its status carries them", () => {
  const entries = loadResources(
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: dns, namespace: shop }
spec:
  hosts: [dns.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 53, name: udp-dns, protocol: UDP }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: shop }
spec:
  hosts: [db.example.com]
  ports: [{ number: 5432, name: tcp-pg, protocol: TCP }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db-copy, namespace: shop }
spec:
  hosts: [db2.example.com]
  ports: [{ number: 5432, name: tcp-pg, protocol: TCP }]
  resolution: DNS
`,
    "entries.yaml",
  ).resources;
  const views = representatives(["shop"], []);
  const translated = translateViews(World.fromResources(entries), views);
  const report = reportProblems(entries, views, (v) => translated.get(v.id)!, "istio-system");
  const udp = report.problems.find((p) => p.message.includes("UDP port 53"))!;
  assert.deepEqual(
    [udp.resource, udp.path],
    [{ kind: "ServiceEntry", namespace: "shop", name: "dns" }, "spec.ports[1]"],
  );
  const taken = report.problems.find((p) => p.message.includes("port 5432 is already used"))!;
  assert.deepEqual(
    [taken.resource, taken.path],
    [{ kind: "ServiceEntry", namespace: "shop", name: "db-copy" }, "spec.ports[0]"],
  );
  const status = statusOf({ kind: "ServiceEntry", namespace: "shop", name: "dns" }, report.problems);
  assert.deepEqual(
    status?.validationMessages.map((m) => [m.type.code, m.level, m.documentationUrl === undefined]),
    [["TRL0002", "WARNING", true]],
  );
  assert.match(JSON.stringify(status), /UDP port 53 is not supported/);
});

test("a registered service's problems name no stored resource but say it is a registered service", () => {
  const registered = {
    hostname: "dns.shop.svc.cluster.local",
    namespace: "shop",
    ports: [{ name: "udp", number: 53, protocol: "UDP" }],
    resolution: "STATIC" as const,
    instances: [],
    exportTo: [],
  };
  const views = representatives(["shop"], []);
  const translated = translateViews(new World({ registered: [registered] }), views);
  const report = reportProblems([], views, (v) => translated.get(v.id)!, "istio-system");
  const udp = report.problems.find((p) => p.message.includes("UDP port 53"))!;
  assert.equal(udp.resource, undefined);
  assert.match(udp.text, /^registered service dns\.shop\.svc\.cluster\.local: UDP port 53 is not supported; left out$/);
  // The user registered it: a Warning, unlike the note about the mesh as a whole (TCP passthrough), which is Info.
  assert.equal(severityOf(udp), "Warning");
  const note = report.problems.find((p) => p.message.startsWith("ALLOW_ANY: TCP"))!;
  assert.equal(severityOf(note), "Info");
});

test("DYNAMIC_DNS: an HTTP port is a dynamic forward proxy cluster; a TLS port is reported on the entry", () => {
  const entries = loadResources(
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wildcard, namespace: shop }
spec:
  hosts: ["*.example.com"]
  ports: [{ number: 8080, name: http, protocol: HTTP }, { number: 443, name: tls, protocol: TLS }]
  resolution: DYNAMIC_DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: wildcard, namespace: shop }
spec:
  host: "*.example.com"
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN }, connectionPool: { tcp: { connectTimeout: 2s } } }
`,
    "wildcard.yaml",
  ).resources;
  const views = representatives(["shop"], []);
  const world = World.fromResources(entries);
  const out = translateOutbound(world, views[0]!.identity);
  const http = out.clusters.find((c) => c.name === "outbound|8080||*.example.com")!;
  assert.deepEqual(
    [http.lb_policy, (http.cluster_type as { name: string }).name, http.connect_timeout, http.type],
    ["CLUSTER_PROVIDED", "envoy.clusters.dynamic_forward_proxy", "2s", undefined],
  );
  assert.equal(
    out.clusters.find((c) => c.name === "outbound|443||*.example.com"),
    undefined,
  );
  const translated = translateViews(world, views);
  const report = reportProblems(entries, views, (v) => translated.get(v.id)!, "istio-system");
  const tls = report.problems.find((p) => p.message.includes("TLS port 443"))!;
  assert.deepEqual([tls.resource?.name, tls.path], ["wildcard", "spec.ports[1]"]);
  assert.ok(
    report.problems.some(
      (p) => p.resource?.kind === "DestinationRule" && /loadBalancer does not apply/.test(p.message),
    ),
  );
});
