// The Gateway API's TLSRoute and TCPRoute end to end: a control plane on the embedded store, real backends declared
// by ServiceEntries (two TLS servers with their own certificates, two TCP servers that say their name), a real
// `trellis gateway --name edge --labels gateway.networking.k8s.io/gateway-name=edge` process, and a Gateway with a
// TLS listener of mode Passthrough and a TCP listener applied through the API: a TLS client reaches the server its
// SNI names (the gateway never terminates: the client checks the backend's own certificate), an SNI no TLSRoute
// names is not routed, and a TCPRoute splits connections 50/50 within binomial bounds.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { makePki, type TestPki } from "./support/tls-certs.ts";
import { startEdgeGateway, type EdgeGateway } from "./support/edge-gateway.ts";
import { runBounded } from "./support/wait.ts";
import { binomialBounds } from "./support/binomial.ts";

interface Closable {
  port: number;
  close(): Promise<void>;
}

/** A server that writes its name to each connection and closes it (TLS when given a certificate). */
async function startNamed(name: string, cert?: { cert: string; key: string }): Promise<Closable> {
  const sockets = new Set<net.Socket>();
  const onConnection = (s: net.Socket): void => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.end(name);
  };
  const server =
    cert === undefined
      ? net.createServer(onConnection)
      : tls.createServer({ cert: cert.cert, key: cert.key }, onConnection);
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const serviceEntry = (name: string, protocol: "TLS" | "TCP", number: number, port: number): string =>
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  ports: [{number: ${number}, name: ${protocol.toLowerCase()}, protocol: ${protocol}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {${protocol.toLowerCase()}: ${port}}}]
`;

const GATEWAY_API = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: istio
  listeners:
  - {name: tls, port: 8443, protocol: TLS, hostname: "*.example.com", tls: {mode: Passthrough}}
  - {name: tcp, port: 9000, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: a}
spec:
  parentRefs: [{name: edge, sectionName: tls}]
  hostnames: [a.example.com]
  rules:
  - backendRefs: [{name: tls-a, port: 8443}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: {name: b}
spec:
  parentRefs: [{name: edge, sectionName: tls}]
  hostnames: [b.example.com]
  rules:
  - backendRefs: [{name: tls-b, port: 8443}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: db}
spec:
  parentRefs: [{name: edge, sectionName: tcp}]
  rules:
  - backendRefs:
    - {name: db-v1, port: 5432, weight: 50}
    - {name: db-v2, port: 5432, weight: 50}
`;

/** What a connection reads until the server closes it, or "error …". */
function readAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let body = "";
    socket.on("data", (c: Buffer) => (body += c.toString()));
    socket.on("end", () => resolve(body));
    socket.on("error", (e) => resolve(`error ${e.message}`));
    socket.on("close", () => resolve(body === "" ? "closed" : body));
  });
}

describe("the Gateway API end to end: TLSRoute passthrough by SNI and a TCPRoute's weights", () => {
  let edge: EdgeGateway;
  let pki: TestPki;
  const servers: Closable[] = [];
  let tlsPort: number;
  let tcpPort: number;

  before(async () => {
    pki = makePki();
    edge = await startEdgeGateway("trellis-gateway-api-l4-e2e-", ["tls=8443", "tcp=9000"]);
    [tlsPort, tcpPort] = edge.ports as [number, number];
  });

  after(async () => {
    await edge.stop();
    for (const s of servers) await s.close();
    pki.close();
  });

  test("each SNI reaches its own backend's certificate and name; a TCPRoute splits 50/50", async () => {
    const tlsA = await startNamed("a", pki.leaf("a", ["DNS:a.example.com"]));
    const tlsB = await startNamed("b", pki.leaf("b", ["DNS:b.example.com"]));
    const dbV1 = await startNamed("v1");
    const dbV2 = await startNamed("v2");
    servers.push(tlsA, tlsB, dbV1, dbV2);
    const content = [
      serviceEntry("tls-a", "TLS", 8443, tlsA.port),
      serviceEntry("tls-b", "TLS", 8443, tlsB.port),
      serviceEntry("db-v1", "TCP", 5432, dbV1.port),
      serviceEntry("db-v2", "TCP", 5432, dbV2.port),
      GATEWAY_API,
    ].join("---\n");
    await edge.apply([{ name: "edge.yaml", content }]);

    // The client checks the backend's own certificate against the test CA: the gateway passes TLS through.
    const overTls = (servername: string): Promise<string> =>
      readAll(tls.connect({ host: "127.0.0.1", port: tlsPort, servername, ca: pki.ca.cert }));
    const overTcp = (): Promise<string> => readAll(net.connect({ host: "127.0.0.1", port: tcpPort }));
    // Polled every 50 ms (the gateway is another process: nothing here to wait on but its answers).
    let a = "";
    let b = "";
    let db = "";
    for (let i = 0; i < 600 && (a !== "a" || b !== "b" || (db !== "v1" && db !== "v2")); i++) {
      [a, b, db] = await Promise.all([overTls("a.example.com"), overTls("b.example.com"), overTcp()]);
      if (a !== "a" || b !== "b" || (db !== "v1" && db !== "v2")) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual([a, b], ["a", "b"], edge.log);
    assert.ok(db === "v1" || db === "v2", `over TCP: ${db}\n${edge.log}`);
    // An SNI no TLSRoute names (within the listener's *.example.com) gets no route: the gateway closes the connection
    // before any backend answers (no name read; the handshake fails or the socket just ends).
    assert.match(await overTls("c.example.com"), /^(|closed|error .*)$/);

    const n = 300;
    const results = await runBounded(n, 8, () => overTcp());
    const failures = results.filter((r) => r !== "v1" && r !== "v2");
    assert.deepEqual(failures.slice(0, 5), []);
    const toV2 = results.filter((r) => r === "v2").length;
    const [lo, hi] = binomialBounds(n, 0.5);
    assert.ok(toV2 >= lo && toV2 <= hi, `${toV2} of ${n} to v2, expected ${lo.toFixed(0)}-${hi.toFixed(0)}`);

    assert.deepEqual(await edge.routeConditions("TLSRoute", "a"), [
      "Accepted=True/Accepted",
      "ResolvedRefs=True/ResolvedRefs",
    ]);
    const gw = await edge.resource<{ status: { listeners: { name: string; attachedRoutes: number }[] } }>(
      "KubernetesGateway",
      "default",
      "edge",
    );
    assert.deepEqual(
      gw.status.listeners.map((l) => `${l.name}=${l.attachedRoutes}`),
      ["tls=2", "tcp=1"],
    );
  });
});
