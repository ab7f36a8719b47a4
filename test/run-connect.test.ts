// CONNECT through a `trellis run` client's outbound listener (HTTPS_PROXY / HTTP_PROXY tunnels): to a mesh TCP
// service through its cluster, to an HTTP service port with the tunnel's requests routed as HTTP, to a host outside
// the mesh under ALLOW_ANY (curl https:// through HTTPS_PROXY), and hostile CONNECTs that must never reach another
// exchange. Real control plane in this process, real `trellis run` sidecars, real curl.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import net from "node:net";
import tls from "node:tls";
import { RunMesh, until } from "./support/run-mesh.ts";
import { TEST_CERT, TEST_KEY } from "./support/test-certificate.ts";

/** Writes `data` on a new connection to the outbound listener; resolves with everything read until the close. */
function raw(port: number, data: string, endAfterMs = 1500): Promise<{ text: string; closedByProxy: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let closedByProxy = false;
    const s = net.connect(port, "127.0.0.1", () => s.write(data));
    // A tunnel stays open: the client ends it once the proxy had time to answer everything it would.
    const timer = setTimeout(() => s.destroy(), endAfterMs);
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("end", () => (closedByProxy = true));
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closedByProxy });
    });
    s.on("error", reject);
  });
}

function responses(text: string): number {
  return text.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0;
}

function curl(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("curl", args, { env, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
    );
  });
}

describe("CONNECT through a trellis run client's outbound listener", () => {
  const mesh = new RunMesh();
  let outbound: number;
  let env: Record<string, string>;
  let external: tls.Server;
  let externalPort: number;

  before(async () => {
    await mesh.start();
    await mesh.httpService("greeter", "v1");
    await mesh.echoService("echo", 7000);
    ({ env } = await mesh.waitingClient("caller"));
    outbound = Number(new URL(env.HTTPS_PROXY!).port);
    // A TLS server outside the mesh (ALLOW_ANY lets a CONNECT to it through, as a passthrough).
    external = tls.createServer({ key: TEST_KEY, cert: TEST_CERT }, (s) => {
      s.on("error", () => {});
      s.end("HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\noutside\n");
    });
    await new Promise<void>((r) => external.listen(0, "127.0.0.1", r));
    externalPort = (external.address() as net.AddressInfo).port;
    // The client's sidecar has the echo service's cluster (its configuration follows the registry).
    await until("echo through a CONNECT", async () => {
      const r = await raw(outbound, "CONNECT echo:7000 HTTP/1.1\r\nhost: echo:7000\r\n\r\nping", 800);
      return r.text.includes("echo:ping") ? r : undefined;
    });
  });

  after(async () => {
    external?.close();
    await mesh.stop();
  });

  test("HTTPS_PROXY and https_proxy are the outbound listener, as HTTP_PROXY", () => {
    assert.equal(env.HTTPS_PROXY, env.HTTP_PROXY);
    assert.equal(env.https_proxy, env.HTTP_PROXY);
  });

  test("CONNECT to a mesh TCP service: 200, then the tunnel's bytes reach it through its cluster", async () => {
    const r = await raw(outbound, "CONNECT echo.default:7000 HTTP/1.1\r\nhost: echo.default:7000\r\n\r\n");
    assert.match(r.text, /^HTTP\/1\.1 200 /);
    const s = net.connect(outbound, "127.0.0.1");
    s.write("CONNECT echo.default.svc.cluster.local:7000 HTTP/1.1\r\nhost: x\r\n\r\n");
    let text = "";
    await new Promise<void>((resolve, reject) => {
      s.on("data", (d: Buffer) => {
        text += d.toString("latin1");
        if (text.includes("\r\n\r\n") && !text.includes("echo:")) s.write("one");
        if (text.includes("echo:one")) resolve();
      });
      s.on("error", reject);
    });
    s.destroy();
    assert.match(text, /^HTTP\/1\.1 200 [^\r]*\r\n\r\necho:one$/s);
  });

  test("curl -p (a tunnel through HTTP_PROXY) to an HTTP service port: the tunnel's requests are routed as HTTP", async () => {
    const r = await curl(["-s", "-p", "--fail", "http://greeter:8080/tunnelled"], env);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout) as { url: string; version: string };
    assert.equal(body.url, "/tunnelled");
    assert.equal(body.version, "v1");
  });

  test("curl https:// through HTTPS_PROXY to a host outside the mesh (ALLOW_ANY): the CONNECT is passed through", async () => {
    const r = await curl(["-s", "-k", "--noproxy", "", `https://127.0.0.1:${externalPort}/`], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "outside\n");
  });

  test("CONNECT to the outbound listener itself is refused (502), not looped", async () => {
    const r = await raw(outbound, `CONNECT 127.0.0.1:${outbound} HTTP/1.1\r\nhost: x\r\n\r\n`);
    assert.match(r.text, /^HTTP\/1\.1 502 /);
    assert.equal(responses(r.text), 1);
  });

  test("hostile CONNECTs: no port, absolute-form, bytes after the head — one answer, never another exchange", async () => {
    const smuggled = "GET / HTTP/1.1\r\nhost: greeter:8080\r\n\r\n";
    const noPort = await raw(outbound, `CONNECT greeter HTTP/1.1\r\nhost: greeter\r\n\r\n${smuggled}`);
    assert.match(noPort.text, /^HTTP\/1\.1 400 /);
    assert.equal(responses(noPort.text), 1, noPort.text);
    assert.ok(noPort.closedByProxy);
    assert.doesNotMatch(noPort.text, /"url"/);

    const absolute = await raw(outbound, `CONNECT http://greeter:8080/ HTTP/1.1\r\nhost: greeter\r\n\r\n${smuggled}`);
    assert.match(absolute.text, /^HTTP\/1\.1 400 /);
    assert.equal(responses(absolute.text), 1, absolute.text);
    assert.doesNotMatch(absolute.text, /"url"/);

    // Bytes sent before the 200 belong to the tunnel: the echo service gets them, the listener never reads them
    // as a request.
    const early = await raw(outbound, `CONNECT echo:7000 HTTP/1.1\r\nhost: echo:7000\r\n\r\n${smuggled}`);
    assert.match(early.text, /^HTTP\/1\.1 200 /);
    assert.equal(responses(early.text), 1, early.text);
    assert.ok(early.text.includes(`echo:${smuggled}`), early.text);

    // A CONNECT that is refused (its own listener) closes the connection: what follows is never answered.
    const refused = await raw(outbound, `CONNECT localhost:${outbound} HTTP/1.1\r\nhost: x\r\n\r\n${smuggled}`);
    assert.match(refused.text, /^HTTP\/1\.1 502 /);
    assert.equal(responses(refused.text), 1, refused.text);
    assert.ok(refused.closedByProxy);
  });

  test("CONNECT to a port nobody listens on: 503 with the flag, the connection closed", async () => {
    // A closed local port outside the mesh, through the passthrough: the connect is refused.
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const r = await raw(outbound, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nhost: x\r\n\r\n`);
    assert.match(r.text, /^HTTP\/1\.1 503 /);
    assert.match(r.text, /x-trellis-response-flags: U[FH]|x-trellis-details: [^\r]*/i);
    assert.ok(r.closedByProxy);
  });
});
