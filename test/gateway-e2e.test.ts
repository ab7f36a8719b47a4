// `trellis gateway` end to end: a real control plane in this process, the gateway as a real `trellis` process
// (bin/trellis.js), services registered through the registry API, resources applied through the real CLI. The
// gateway routes two hosts over HTTP by Host, passes TLS through by SNI to a TLS server (which the client sees
// answer, its certificate unchanged), registers itself (get workloads, proxy-status) and leaves the registry when
// it is sent SIGTERM.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type net from "node:net";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { spawnGateway } from "./support/gateway-child.ts";
import { runCli } from "./support/cli-main.ts";
import { TEST_CERT, TEST_KEY } from "./support/test-certificate.ts";
import { freePort, until } from "./support/polling.ts";

function get(port: number, host: string, path = "/"): Promise<{ status: number; body: string; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, headers: { host } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          ...(res.headers.location !== undefined ? { location: res.headers.location } : {}),
        }),
      );
    });
    req.on("error", reject);
  });
}

/** An HTTP server that answers its own name and the request's path. */
async function backend(name: string): Promise<http.Server> {
  const server = http.createServer((req, res) => res.end(`${name} ${req.url}`));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;

describe("trellis gateway", () => {
  let dataDir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let control: string;
  const servers: net.Server[] = [];
  let gateway: ChildProcess | undefined;
  let gatewayLog = "";
  let httpPort: number;
  let tlsPort: number;
  let redirectPort: number;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "trellis-gateway-"));
    store = await EmbeddedStore.open({ dataDir });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    control = `http://127.0.0.1:${cp.apiPort}`;
    const web = await backend("web");
    const api = await backend("api");
    const secure = tls.createServer({ key: TEST_KEY, cert: TEST_CERT }, (socket) => {
      socket.on("error", () => {});
      socket.end(`secure saw SNI ${(socket as tls.TLSSocket & { servername?: string }).servername}\n`);
    });
    await new Promise<void>((r) => secure.listen(0, "127.0.0.1", r));
    servers.push(web, api, secure);
    const register = async (service: string, port: number, protocol: string, name: string): Promise<void> => {
      const res = await fetch(`${control}/api/v1/registry/instances`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          service,
          namespace: "default",
          address: "127.0.0.1",
          ports: [{ name, number: port, protocol }],
        }),
      });
      assert.equal(res.status, 200, await res.text());
    };
    await register("web", portOf(web), "HTTP", "http");
    await register("api", portOf(api), "HTTP", "http");
    await register("secure", portOf(secure), "TLS", "tls");
    const file = join(dataDir, "gateway.yaml");
    writeFileSync(
      file,
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: public }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [web.example.com, api.example.com]
    - port: { number: 81, name: http-redirect, protocol: HTTP }
      hosts: [web.example.com]
      tls: { httpsRedirect: true }
    - port: { number: 443, name: tls, protocol: TLS }
      hosts: [secure.example.com]
      tls: { mode: PASSTHROUGH }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web }
spec:
  hosts: [web.example.com]
  gateways: [public]
  http: [{ route: [{ destination: { host: web } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api.example.com]
  gateways: [default/public]
  http:
    - match: [{ uri: { prefix: /v1 } }]
      route: [{ destination: { host: api } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: secure }
spec:
  hosts: [secure.example.com]
  gateways: [public]
  tls:
    - match: [{ sniHosts: [secure.example.com] }]
      route: [{ destination: { host: secure } }]
`,
    );
    const applied = await runCli(control, "apply", "-f", file);
    assert.equal(applied.code, 0, applied.stderr);
    assert.doesNotMatch(
      applied.stdout + applied.stderr,
      /TRL0001|not enforced/,
      "Gateway and its VirtualServices are enforced",
    );

    [httpPort, tlsPort, redirectPort] = [await freePort(), await freePort(), await freePort()];
    gateway = spawnGateway(
      [
        "--name",
        "ingress",
        "--port",
        `http=80:${httpPort}`,
        "--port",
        `http-redirect=81:${redirectPort}`,
        "--port",
        `tls=443:${tlsPort}`,
      ],
      cp.xdsPort,
      control,
      (text) => (gatewayLog += text),
    );
    await until(
      "the gateway's listeners",
      () => (/ready \(.*0\.0\.0\.0_80=/.test(gatewayLog) ? true : undefined),
      60_000,
    );
  });

  after(async () => {
    if (gateway !== undefined && gateway.exitCode === null) gateway.kill("SIGKILL");
    for (const s of servers) s.close();
    await cp.stop();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("routes two hosts on one port by Host, each to its VirtualService's service; other hosts get 404", async () => {
    const web = await until("web through the gateway", () =>
      get(httpPort, "web.example.com", "/index").then((r) => (r.status === 200 ? r : undefined)),
    );
    assert.equal(web.body, "web /index");
    const api = await get(httpPort, "api.example.com:80", "/v1/users");
    assert.equal(api.status, 200);
    assert.equal(api.body, "api /v1/users");
    assert.equal((await get(httpPort, "api.example.com", "/v2")).status, 404, "no route of api's matches /v2");
    assert.equal((await get(httpPort, "other.example.com")).status, 404, "a host no server lists");
  });

  test("httpsRedirect: every request is answered 301 to https", async () => {
    const r = await get(redirectPort, "web.example.com", "/a?b=1");
    assert.equal(r.status, 301);
    assert.equal(r.location, "https://web.example.com/a?b=1");
  });

  test("PASSTHROUGH: TLS goes to the tls route's service by SNI, never terminated (the server's certificate reaches the client)", async () => {
    const reply = await new Promise<{ text: string; cert: tls.PeerCertificate }>((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port: tlsPort, servername: "secure.example.com", ca: TEST_CERT });
      let text = "";
      socket.on("secureConnect", () => {
        const cert = socket.getPeerCertificate();
        socket.on("data", (c: Buffer) => (text += c.toString()));
        socket.on("end", () => resolve({ text, cert }));
      });
      socket.on("error", reject);
    });
    assert.equal(reply.text, "secure saw SNI secure.example.com\n");
    assert.match(String(reply.cert.subject.CN), /trellis test passthrough/);
    // An SNI no chain names: the connection is closed, no TLS session with anyone.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port: tlsPort, servername: "nobody.example.com", ca: TEST_CERT });
        s.on("secureConnect", () => resolve(s));
        s.on("error", reject);
        s.on("close", () => reject(new Error("closed")));
      }),
    );
  });

  test("registered: get workloads and proxy-status show it; SIGTERM deregisters it and it exits 0", async () => {
    const workloads = await runCli(control, "get", "workloads");
    assert.equal(workloads.code, 0, workloads.stderr);
    assert.match(workloads.stdout, /ingress/);
    const instance = cp.registry.list().find((i) => i.service === "ingress");
    assert.ok(instance !== undefined);
    assert.deepEqual(instance.labels, { istio: "ingressgateway", app: "ingress" });
    assert.deepEqual(
      instance.ports.map((p) => [p.name, p.servicePort, p.number]),
      [
        ["http", 80, httpPort],
        ["http-redirect", 81, redirectPort],
        ["tls", 443, tlsPort],
      ],
    );
    const status = await runCli(control, "proxy-status");
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /router~127\.0\.0\.1~ingress-[0-9a-f]+\.default~default\.svc\.cluster\.local/);
    const exited = new Promise<number | null>((r) => gateway!.on("exit", (code) => r(code)));
    gateway!.kill("SIGTERM");
    assert.equal(await exited, 0, gatewayLog);
    assert.equal(
      cp.registry.list().find((i) => i.service === "ingress"),
      undefined,
    );
  });
});
