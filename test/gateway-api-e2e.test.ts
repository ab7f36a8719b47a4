// The Gateway API end to end: a control plane on the embedded store, two real backends (shop v1 and v2, declared by
// ServiceEntries), a real `trellis gateway --name edge --labels gateway.networking.k8s.io/gateway-name=edge`
// process, and a Gateway plus an HTTPRoute splitting 90/10 applied through the API: traffic to the gateway follows
// the split within binomial bounds, a host the route does not name gets no route, and the HTTPRoute's status says
// it is accepted; a GRPCRoute on the same listener sends a real gRPC call to a greeter by its method; an HTTPS
// listener terminates TLS with the secret its certificateRef names (trellis create secret tls).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import * as grpc from "@grpc/grpc-js";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { Greeter, startGreeter } from "./support/greeter.ts";
import https from "node:https";
import { makePki } from "./support/tls-certs.ts";
import { runCli } from "./support/cli.ts";
import { startEdgeGateway, type EdgeGateway } from "./support/edge-gateway.ts";
import { runBounded } from "./support/wait.ts";
import { binomialBounds } from "./support/binomial.ts";

const backends = (v1: number, v2: number): string =>
  [
    ["shop-v1", v1],
    ["shop-v2", v2],
  ]
    .map(
      ([name, port]) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ${port}}}]
`,
    )
    .join("---\n");

const GATEWAY_API = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 8080, protocol: HTTP, hostname: "*.example.com"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  parentRefs: [{name: edge, sectionName: http}]
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /shop}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-via, value: gateway-api}]}
    backendRefs:
    - {name: shop-v1, port: 8080, weight: 90}
    - {name: shop-v2, port: 8080, weight: 10}
`;

describe("the Gateway API end to end: an HTTPRoute's weights through a gateway", () => {
  let edge: EdgeGateway;
  let v1: Upstream;
  let v2: Upstream;
  let gatewayPort: number;
  let httpsPort: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  const call = (path: string, host = "shop.example.com"): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port: gatewayPort, path, headers: { host }, agent }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => {
          if (res.statusCode !== 200)
            return resolve(`${res.statusCode} ${String(res.headers["x-trellis-details"] ?? "")}`.trim());
          const echo = JSON.parse(body) as { name: string; headers: Record<string, string>; url: string };
          resolve(echo.headers["x-via"] === "gateway-api" && echo.url === path ? echo.name : `bad ${body}`);
        });
      });
      req.on("error", reject);
    });

  before(async () => {
    edge = await startEdgeGateway("trellis-gateway-api-e2e-", ["http=8080", "https=8443"]);
    v1 = await startEchoServer("v1");
    v2 = await startEchoServer("v2");
    [gatewayPort, httpsPort] = edge.ports as [number, number];
  });

  const greeters: grpc.Server[] = [];

  after(async () => {
    for (const g of greeters) g.forceShutdown();
    agent.destroy();
    await edge.stop();
    await v1.close();
    await v2.close();
  });

  test("90/10 within binomial bounds; another host is not routed; the route's status is Accepted", async () => {
    await edge.apply([
      { name: "backends.yaml", content: backends(v1.port, v2.port) },
      { name: "shop.yaml", content: GATEWAY_API },
    ]);
    // Polled every 50 ms (the gateway is another process: nothing here to wait on but its log).
    for (let waited = 0; !/ready \(.*0\.0\.0\.0_8080=/.test(edge.log); waited += 50) {
      if (waited > 60_000 || edge.gateway.exitCode !== null)
        throw new Error(`the gateway did not get its listener:\n${edge.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Ready when the gateway's listener answers with both backends reachable.
    let ready = false;
    for (let i = 0; i < 200 && !ready; i++) {
      const seen = await runBounded(20, 4, () => call("/shop/item").catch(() => "error"));
      ready = seen.every((s) => s === "v1" || s === "v2") && seen.includes("v1");
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(ready, `the gateway never routed /shop to the backends:\n${edge.log}`);
    const n = 400;
    const results = await runBounded(n, 8, (i) => call(i % 2 === 0 ? "/shop" : `/shop/${i}`));
    const failures = results.filter((r) => r !== "v1" && r !== "v2");
    assert.deepEqual(failures.slice(0, 5), []);
    const toV2 = results.filter((r) => r === "v2").length;
    const [lo, hi] = binomialBounds(n, 0.1);
    assert.ok(toV2 >= lo && toV2 <= hi, `${toV2} of ${n} to v2, expected ${lo.toFixed(0)}-${hi.toFixed(0)}`);
    // PathPrefix /shop is segment-wise: /shopping is not under it, nor is a host the route does not name.
    assert.match(await call("/shopping"), /^404 route_not_found/);
    assert.match(await call("/shop", "other.example.com"), /^404 no_virtual_host/);
    assert.deepEqual(await edge.routeConditions("HTTPRoute", "shop"), [
      "Accepted=True/Accepted",
      "ResolvedRefs=True/ResolvedRefs",
    ]);
  });

  test("a GRPCRoute through the same gateway: SayHello reaches the greeter by its method", async () => {
    const greeter = await startGreeter("greeter-v1");
    greeters.push(greeter.server);
    const files = [
      {
        name: "greeter.yaml",
        content: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: greeter}
spec:
  hosts: [greeter.default.svc.cluster.local]
  ports: [{number: 50051, name: grpc, protocol: GRPC}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {grpc: ${greeter.port}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: greeter}
spec:
  parentRefs: [{name: edge, sectionName: http}]
  hostnames: [grpc.example.com]
  rules:
  - matches: [{method: {service: helloworld.Greeter, method: SayHello}}]
    backendRefs: [{name: greeter, port: 50051}]
`,
      },
    ];
    await edge.apply(files);
    const client = new Greeter(`127.0.0.1:${gatewayPort}`, grpc.credentials.createInsecure(), {
      "grpc.default_authority": "grpc.example.com",
    });
    try {
      const call = (): Promise<unknown> =>
        new Promise((resolve) =>
          client.SayHello({ name: "gateway" }, (err: grpc.ServiceError | null, reply: unknown) =>
            resolve(err === null ? reply : `${err.code} ${err.details}`),
          ),
        );
      let reply: unknown;
      for (let i = 0; i < 200; i++) {
        reply = await call();
        if (typeof reply === "object") break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(reply, { message: "hello gateway", from: "greeter-v1" });
    } finally {
      client.close();
    }
  });

  test("an HTTPS listener terminates TLS with the secret its certificateRef names; its status says so", async () => {
    const pki = makePki();
    try {
      const leaf = pki.leaf("secure", ["DNS:secure.example.com"]);
      const env = { TRELLIS_CONTROL: `http://127.0.0.1:${edge.cp.apiPort}` };
      const created = await runCli(
        ["create", "secret", "tls", "secure-cert", "--cert", leaf.certFile, "--key", leaf.keyFile],
        env,
      );
      assert.equal(created.code, 0, created.stderr);
      const content = GATEWAY_API.replace(
        '  - {name: http, port: 8080, protocol: HTTP, hostname: "*.example.com"}\n',
        '  - {name: http, port: 8080, protocol: HTTP, hostname: "*.example.com"}\n' +
          "  - {name: https, port: 8443, protocol: HTTPS, hostname: secure.example.com,\n" +
          "     tls: {certificateRefs: [{name: secure-cert}]}}\n",
      )
        .replace("parentRefs: [{name: edge, sectionName: http}]", "parentRefs: [{name: edge}]")
        .replace("hostnames: [shop.example.com]", "hostnames: [shop.example.com, secure.example.com]");
      assert.match(content, /secure-cert/);
      await edge.apply([{ name: "shop.yaml", content }]);
      const get = (): Promise<string> =>
        new Promise((resolve) => {
          const req = https.get(
            {
              host: "127.0.0.1",
              port: httpsPort,
              servername: "secure.example.com",
              headers: { host: "secure.example.com" },
              ca: pki.ca.cert,
              path: "/shop/secure",
              agent: false,
            },
            (r) => {
              let body = "";
              r.on("data", (c: Buffer) => (body += c.toString()));
              r.on("end", () =>
                resolve(r.statusCode === 200 ? (JSON.parse(body) as { name: string }).name : `${r.statusCode}`),
              );
            },
          );
          req.on("error", (e) => resolve(`error ${e.message}`));
        });
      let seen = "";
      for (let i = 0; i < 200 && seen !== "v1" && seen !== "v2"; i++) {
        seen = await get();
        if (seen !== "v1" && seen !== "v2") await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(seen === "v1" || seen === "v2", `over HTTPS: ${seen}\n${edge.log}`);
      const gw = await edge.resource<{
        status: {
          listeners: { name: string; attachedRoutes: number; conditions: { type: string; status: string }[] }[];
        };
      }>("KubernetesGateway", "default", "edge");
      const listener = gw.status.listeners.find((l) => l.name === "https")!;
      assert.equal(listener.attachedRoutes, 1);
      assert.deepEqual(
        listener.conditions.map((c) => `${c.type}=${c.status}`),
        ["Accepted=True", "ResolvedRefs=True", "Programmed=True"],
      );
    } finally {
      pki.close();
    }
  });
});
