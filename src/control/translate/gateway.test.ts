// Router proxies (`trellis gateway`): golden files testdata/gateway/<case>.yaml → <case>.golden.yaml (UPDATE_GOLDEN=1
// rewrites them), plus the checks every output passes: each resource parses with the proxy's own parsers (a TLS
// chain's transport_socket is checked for Envoy's shape, then set aside: the proxy's TLS comes with its own part)
// and encodes to protobuf.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { parseCluster, parseListener, parseRouteConfiguration } from "../../api/xds/parse/index.ts";
import { decodeResource, encodeResource, TYPE_URL } from "../../api/xds/wire/codec.ts";
import type { Json } from "./envoy.ts";
import { DOWNSTREAM_TLS_TYPE, intersectHost, TLS_TRANSPORT_SOCKET } from "./gateway.ts";
import { proxyIdentityFromNode } from "./proxy-identity.ts";
import { inlineRds, loadCase, TESTDATA } from "./testing.ts";
import { translate } from "./translate.ts";
import type { Gateway, VirtualService } from "../../api/resources/types.ts";
import { World } from "./world-index.ts";

const DIR = join(TESTDATA, "gateway");
const cases = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".golden.yaml") && f !== "base.yaml")
  .sort();

for (const file of cases) {
  const name = file.slice(0, -".yaml".length);
  test(`gateway golden: ${name}`, () => {
    const { world, proxy } = loadCase(`gateway/${file}`);
    const result = translate(world, proxy);
    const { issues, ...golden } = result;
    const goldenPath = join(DIR, `${name}.golden.yaml`);
    const text = stringify({ ...golden, codes: issues.map((i) => `${i.code} ${i.path ?? ""}`) }, { lineWidth: 0 });
    if (process.env.UPDATE_GOLDEN === "1" || !existsSync(goldenPath)) writeFileSync(goldenPath, text);
    assert.deepEqual(
      { ...golden, codes: issues.map((i) => `${i.code} ${i.path ?? ""}`) },
      parseYaml(readFileSync(goldenPath, "utf8")),
      `${name}: output differs from the golden file`,
    );
    assert.deepEqual(translate(world, proxy), result, "pure");
    for (const l of result.listeners) {
      assert.doesNotThrow(() => parseListener(inlineRds(withoutTls(l), result.routes)), `listener ${String(l.name)}`);
      // The TLS contexts survive the wire (an enum spelled wrong would come back as another value).
      const back = decodeResource(encodeResource(TYPE_URL.listener, l));
      assert.deepEqual(tlsContexts(back), tlsContexts(l), `listener ${String(l.name)}: TLS contexts on the wire`);
    }
    for (const r of result.routes) {
      assert.doesNotThrow(() => parseRouteConfiguration(r), `route ${String(r.name)}`);
      encodeResource(TYPE_URL.routeConfiguration, r);
    }
    for (const c of result.clusters) assert.doesNotThrow(() => parseCluster(c), `cluster ${String(c.name)}`);
  });
}

/** Each chain's DownstreamTlsContext's common_tls_context (what the wire must keep as written). */
function tlsContexts(listener: Json): unknown[] {
  return ((listener.filter_chains as Json[] | undefined) ?? []).map(
    (c) => ((c.transport_socket as Json | undefined)?.typed_config as Json | undefined)?.common_tls_context,
  );
}

/** The listener with its chains' TLS transport sockets removed, after checking they are Envoy's shape. */
function withoutTls(listener: Json): Json {
  const copy = structuredClone(listener);
  for (const chain of (copy.filter_chains as Json[] | undefined) ?? []) {
    const socket = chain.transport_socket as Json | undefined;
    if (socket === undefined) continue;
    assert.equal(socket.name, TLS_TRANSPORT_SOCKET);
    const ctx = socket.typed_config as Json;
    assert.equal(ctx["@type"], DOWNSTREAM_TLS_TYPE);
    const common = ctx.common_tls_context as Json;
    const sds = common.tls_certificate_sds_secret_configs as Json[];
    assert.ok(sds.length > 0 && sds.every((s) => String(s.name).startsWith("kubernetes://")));
    delete chain.transport_socket;
  }
  return copy;
}

test("a router is known by its node id (Istio's router~…) or TRELLIS_NODE_TYPE; its ports by TRELLIS_GATEWAY_PORTS", () => {
  const byId = proxyIdentityFromNode({ id: "router~10.0.0.1~gw.ns~ns.svc.cluster.local", metadata: {} });
  assert.equal(byId.router, true);
  assert.equal(byId.gatewayAddress, "127.0.0.1");
  const byMeta = proxyIdentityFromNode({
    id: "gw",
    metadata: {
      TRELLIS_NODE_TYPE: "router",
      TRELLIS_GATEWAY_PORTS: "80:18080, 443:0,bad,70000:1",
      TRELLIS_GATEWAY_ADDRESS: "127.0.0.2",
    },
  });
  assert.deepEqual(byMeta.gatewayPorts, { 80: 18080, 443: 0 });
  assert.equal(byMeta.gatewayAddress, "127.0.0.2");
  assert.equal(proxyIdentityFromNode({ id: "sidecar~1~a.b~c", metadata: {} }).router, undefined);
});

test("host intersection as Istio's: the more specific of two hosts when one covers the other", () => {
  assert.equal(intersectHost("web.example.com", "*.example.com"), "web.example.com");
  assert.equal(intersectHost("*.example.com", "web.example.com"), "web.example.com");
  assert.equal(intersectHost("*", "a.b"), "a.b");
  assert.equal(intersectHost("*.a.example.com", "*.example.com"), "*.a.example.com");
  assert.equal(intersectHost("a.example.com", "b.example.com"), undefined);
});

test("a VirtualService bound to a gateway and mesh routes sidecars too (its mesh matches only); one bound to gateways only does not", () => {
  const { world, proxy: router } = loadCase("gateway/http-two-hosts.yaml");
  const sidecar = proxyIdentityFromNode({
    id: "web-1",
    metadata: { NAMESPACE: "default", LABELS: { app: "web" }, INSTANCE_IPS: "10.0.0.10" },
  });
  const result = translate(world, sidecar);
  const vhosts = (result.routes.find((r) => r.name === "outbound-http")!.virtual_hosts as Json[]).map((v) => ({
    name: v.name,
    domains: v.domains as string[],
    routes: (v.routes as Json[]).map((r) => r.match),
  }));
  const api = vhosts.find((v) => v.name === "api.default.svc.cluster.local:9090")!;
  // Sidecars get the VirtualService's routes (its `gateways` include mesh), including the mesh-only match.
  assert.deepEqual(api.routes, [{ prefix: "/v1" }, { prefix: "/sidecars-only" }]);
  assert.ok(!vhosts.some((v) => v.domains.includes("web.example.com")), "gateway-only hosts are not on sidecars");
  assert.ok(!vhosts.some((v) => v.domains.includes("api.example.com")), "the gateway's host is not a sidecar's");
  // And the gateway does not get the mesh-only match.
  const gw = translate(world, router);
  const gwApi = (gw.routes.find((r) => r.name === "http.80")!.virtual_hosts as Json[]).find(
    (v) => v.name === "api.example.com:80",
  )!;
  assert.deepEqual(
    (gwApi.routes as Json[]).map((r) => r.match),
    [{ prefix: "/v1" }],
  );
});

test("no input crashes the translation: a Gateway without servers or a server without a port, a tls match without sniHosts", () => {
  const meta = (name: string) => ({ name, namespace: "default", labels: {}, annotations: {} });
  const world = new World({
    gateways: [
      { apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: meta("empty"), spec: {} },
      {
        apiVersion: "networking.istio.io/v1",
        kind: "Gateway",
        metadata: meta("portless"),
        spec: {
          selector: {},
          servers: [
            { hosts: ["*"] },
            { port: { number: 443, protocol: "TLS" }, hosts: ["*"], tls: { mode: "PASSTHROUGH" } },
          ],
        },
      },
    ] as unknown as Gateway[],
    virtualServices: [
      {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: meta("odd"),
        spec: {
          hosts: ["*"],
          gateways: ["portless"],
          http: [],
          tls: [{ match: [{}], route: [{ destination: { host: "x" } }] }],
        },
      },
    ] as unknown as VirtualService[],
  });
  const router = proxyIdentityFromNode({ id: "router~127.0.0.1~gw.default~default.svc.cluster.local", metadata: {} });
  const result = translate(world, router);
  assert.deepEqual(
    result.listeners.map((l) => l.name),
    ["0.0.0.0_443"],
  );
  assert.ok(
    result.issues.some((p) => p.code === "TRL0003"),
    "the passthrough server routes nothing: said",
  );
});
