// Istio's egress gateway task (HTTP variant) end to end: an "external" server on 127.0.0.1 known to the mesh by a
// ServiceEntry (resolution STATIC), an egress gateway (`trellis gateway --name egress --labels istio=egressgateway`,
// a real process), and a VirtualService bound to both `mesh` and the egress Gateway: a `trellis run` client's
// request for the external host goes from its sidecar to the egress gateway (match gateways [mesh]) and from there
// out (match gateways [istio-egressgateway]). The egress gateway's own stats show it sent the request.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { spawnGateway } from "./support/gateway-child.ts";
import { runCli } from "./support/cli-main.ts";
import { freePort, until } from "./support/polling.ts";

/** Through $HTTP_PROXY (the sidecar), absolute-form, until a 200 (at most 20 s); the body to $OUT; exit 0 on 200. */
const CLIENT = `
const http = require("node:http");
const fs = require("node:fs");
const proxy = new URL(process.env.HTTP_PROXY);
const deadline = Date.now() + 20000;
function attempt() {
  const req = http.get({ host: proxy.hostname, port: proxy.port, path: "http://httpbin.example.com/headers",
    headers: { host: "httpbin.example.com" }, agent: false }, (res) => {
    let body = "";
    res.on("data", (c) => (body += c));
    res.on("end", () => {
      fs.writeFileSync(process.env.OUT, res.statusCode + " " + body);
      if (res.statusCode === 200) process.exit(0);
      if (Date.now() > deadline) process.exit(1);
      setTimeout(attempt, 200);
    });
  });
  req.on("error", (e) => { fs.writeFileSync(process.env.OUT, "error " + e.message); if (Date.now() > deadline) process.exit(1); setTimeout(attempt, 200); });
}
attempt();
`;

describe("egress gateway (Istio's egress task, HTTP)", () => {
  let dir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let control: string;
  let external: http.Server;
  let gateway: ChildProcess | undefined;
  let gatewayLog = "";
  let adminPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-egress-"));
    store = await EmbeddedStore.open({ dataDir: join(dir, "data") });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    control = `http://127.0.0.1:${cp.apiPort}`;
    external = http.createServer((req, res) => res.end(`external saw host ${req.headers.host} ${req.url}`));
    await new Promise<void>((r) => external.listen(0, "127.0.0.1", r));
    const externalPort = (external.address() as net.AddressInfo).port;
    const file = join(dir, "egress.yaml");
    writeFileSync(
      file,
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin }
spec:
  hosts: [httpbin.example.com]
  location: MESH_EXTERNAL
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${externalPort} } }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway }
spec:
  selector: { istio: egressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [httpbin.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-httpbin-through-egress-gateway }
spec:
  hosts: [httpbin.example.com]
  gateways: [istio-egressgateway, mesh]
  http:
    - match: [{ gateways: [mesh], port: 80 }]
      route: [{ destination: { host: egress.default.svc.cluster.local, port: { number: 80 } } }]
    - match: [{ gateways: [istio-egressgateway], port: 80 }]
      route: [{ destination: { host: httpbin.example.com, port: { number: 80 } } }]
`,
    );
    const applied = await runCli(control, "apply", "-f", file);
    assert.equal(applied.code, 0, applied.stderr);
    adminPort = await freePort();
    gateway = spawnGateway(
      [
        "--name",
        "egress",
        "--labels",
        "istio=egressgateway",
        "--port",
        `http=80:${await freePort()}`,
        "--admin-port",
        String(adminPort),
      ],
      cp.xdsPort,
      control,
      (text) => (gatewayLog += text),
    );
    await until("the egress gateway ready and registered", () =>
      /ready \(.*0\.0\.0\.0_80=/.test(gatewayLog) && cp.registry.list().some((i) => i.service === "egress")
        ? true
        : undefined,
    );
  });

  after(async () => {
    if (gateway !== undefined && gateway.exitCode === null) gateway.kill("SIGKILL");
    external.close();
    await cp.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a mesh client's request for the external host goes through the egress gateway and out", async () => {
    const out = join(dir, "client.out");
    const previous = process.env.OUT;
    process.env.OUT = out;
    let result;
    try {
      result = await runCli(
        control,
        "run",
        "--service",
        "client",
        "--xds",
        `127.0.0.1:${cp.xdsPort}`,
        "--",
        process.execPath,
        "-e",
        CLIENT,
      );
    } finally {
      if (previous === undefined) delete process.env.OUT;
      else process.env.OUT = previous;
    }
    const body = readFileSync(out, "utf8");
    assert.equal(result.code, 0, `${body}\n${result.stderr}`);
    assert.equal(body, "200 external saw host httpbin.example.com /headers");
    const stats = await fetch(`http://127.0.0.1:${adminPort}/stats`).then((r) => r.text());
    const sent = /cluster\.outbound\|80\|\|httpbin\.example\.com\.upstream_rq_total: (\d+)/.exec(stats);
    assert.ok(sent !== null && Number(sent[1]) >= 1, `the egress gateway sent it out:\n${stats.slice(0, 2000)}`);
  });
});
