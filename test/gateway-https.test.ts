// HTTPS termination at the gateway, end to end: two hosts on one port, each its own HTTPS server with its own
// certificate (`trellis create secret tls`, served over SDS as kubernetes://NAME), chosen by SNI; the client sees
// the certificate of the host it asked for, and the request reaches that host's service in plain HTTP.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, type ChildProcess } from "node:child_process";
import http from "node:http";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { spawnGateway } from "./support/gateway-child.ts";
import { runCli } from "./support/cli-main.ts";
import { makePki, type TestPki } from "./support/tls-certs.ts";
import { freePort, until } from "./support/polling.ts";

/** A self-signed EC certificate for one host, by the openssl CLI; its files' paths. */
function selfSigned(dir: string, host: string): { cert: string; key: string } {
  const cert = join(dir, `${host}.crt`);
  const key = join(dir, `${host}.key`);
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"].concat([
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      `/CN=${host}`,
      "-addext",
      `subjectAltName=DNS:${host}`,
    ]),
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return { cert, key };
}

function httpsGet(
  port: number,
  host: string,
  ca: string,
  client?: { cert: string; key: string },
): Promise<{ status: number; body: string; cn: string }> {
  return new Promise((resolve, reject) => {
    const options = { host: "127.0.0.1", port, servername: host, headers: { host }, ca, agent: false, path: "/hello" };
    const req = https.get({ ...options, ...client }, (res) => {
      const cn = String((res.socket as TLSSocket).getPeerCertificate().subject.CN);
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, cn }));
    });
    req.on("error", reject);
  });
}

describe("HTTPS at the gateway (tls.mode SIMPLE, credentialName)", () => {
  let dir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let control: string;
  const servers: http.Server[] = [];
  let gateway: ChildProcess | undefined;
  let gatewayLog = "";
  let httpsPort: number;
  let webCa: string;
  let apiCa: string;
  let pki: TestPki;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-https-"));
    store = await EmbeddedStore.open({ dataDir: join(dir, "data") });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    control = `http://127.0.0.1:${cp.apiPort}`;
    for (const name of ["web", "api"]) {
      const server = http.createServer((req, res) => res.end(`${name} ${req.url}`));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      servers.push(server);
      const res = await fetch(`${control}/api/v1/registry/instances`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          service: name,
          namespace: "default",
          address: "127.0.0.1",
          ports: [{ name: "http", number: (server.address() as net.AddressInfo).port, protocol: "HTTP" }],
        }),
      });
      assert.equal(res.status, 200);
    }
    const web = selfSigned(dir, "web.example.com");
    const api = selfSigned(dir, "api.example.org");
    webCa = readFileSync(web.cert, "utf8");
    apiCa = readFileSync(api.cert, "utf8");
    for (const [name, pair] of [
      ["web-cert", web],
      ["api-cert", api],
    ] as const) {
      const r = await runCli(control, "create", "secret", "tls", name, "--cert", pair.cert, "--key", pair.key);
      assert.equal(r.code, 0, r.stderr);
    }
    // MUTUAL: a server certificate from a test CA, and that CA (ca.crt) to check client certificates against.
    pki = makePki();
    const mtls = pki.leaf("mtls", ["DNS:mtls.example.com"]);
    const created = await runCli(
      control,
      ...[
        "create",
        "secret",
        "tls",
        "mtls-cert",
        "--cert",
        mtls.certFile,
        "--key",
        mtls.keyFile,
        "--ca",
        pki.ca.certFile,
      ],
    );
    assert.equal(created.code, 0, created.stderr);
    const file = join(dir, "gw.yaml");
    writeFileSync(
      file,
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: public }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 443, name: https-web, protocol: HTTPS }
      hosts: [web.example.com]
      tls: { mode: SIMPLE, credentialName: web-cert }
    - port: { number: 443, name: https-api, protocol: HTTPS }
      hosts: [api.example.org]
      tls: { mode: SIMPLE, credentialName: api-cert }
    - port: { number: 443, name: https-mtls, protocol: HTTPS }
      hosts: [mtls.example.com]
      tls: { mode: MUTUAL, credentialName: mtls-cert }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: both }
spec:
  hosts: [web.example.com, api.example.org, mtls.example.com]
  gateways: [public]
  http:
    - match: [{ authority: { exact: api.example.org } }]
      route: [{ destination: { host: api } }]
    - route: [{ destination: { host: web } }]
`,
    );
    const applied = await runCli(control, "apply", "-f", file);
    assert.equal(applied.code, 0, applied.stderr);
    httpsPort = await freePort();
    gateway = spawnGateway(
      ["--name", "ingress", "--port", `https=443:${httpsPort}`],
      cp.xdsPort,
      control,
      (text) => (gatewayLog += text),
    );
  });

  after(async () => {
    if (gateway !== undefined && gateway.exitCode === null) gateway.kill("SIGKILL");
    for (const s of servers) s.close();
    pki?.close();
    await cp.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("two hosts on 443, each with its own certificate by SNI, routed to their services", async () => {
    const web = await until("web over HTTPS", () =>
      httpsGet(httpsPort, "web.example.com", webCa).then(
        (r) => (r.status === 200 ? r : undefined),
        () => undefined,
      ),
    ).catch((err: Error) => assert.fail(`${err.message}\n${gatewayLog}`));
    assert.deepEqual(web, { status: 200, body: "web /hello", cn: "web.example.com" });
    const api = await httpsGet(httpsPort, "api.example.org", apiCa);
    assert.deepEqual(api, { status: 200, body: "api /hello", cn: "api.example.org" });
    // A name no server lists: no chain, no handshake.
    await assert.rejects(httpsGet(httpsPort, "other.example.net", webCa));
  });

  test("MUTUAL: a client certificate from the secret's CA is let in; none is refused at the handshake", async () => {
    const client = pki.leaf("client", ["URI:spiffe://cluster.local/ns/default/sa/client"]);
    const ok = await until("mtls with a client certificate", () =>
      httpsGet(httpsPort, "mtls.example.com", pki.ca.cert, { cert: client.cert, key: client.key }).then(
        (r) => (r.status === 200 ? r : undefined),
        () => undefined,
      ),
    ).catch((err: Error) => assert.fail(`${err.message}\n${gatewayLog}`));
    assert.deepEqual(ok, { status: 200, body: "web /hello", cn: "mtls" });
    await assert.rejects(httpsGet(httpsPort, "mtls.example.com", pki.ca.cert));
  });
});
