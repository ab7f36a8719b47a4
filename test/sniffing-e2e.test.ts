// Protocol sniffing end to end: the real control plane (a mesh file with protocolDetectionTimeout, ServiceEntries
// whose ports are named without a protocol) feeds a real sidecar over xDS, and each undeclared port's listener
// (explicit mode, outbound-tcp-<port>) tells the connections apart by their first bytes: HTTP/1.1 is routed by the
// VirtualService's http routes, h2c goes on as HTTP/2 (the cluster follows the downstream protocol), anything else
// is tcp_proxy'd byte for byte, and a server-first protocol, whose client says nothing, gets its greeting once the
// detection timeout passes.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../src/api/clock.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { Proxy } from "../src/proxy/server.ts";
import { XdsClient } from "../src/proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../src/proxy/xds-client/node.ts";
import { clientHello } from "./support/client-hello.ts";
import { freePorts } from "./support/etcd.ts";
import { startH2EchoServer, startTcpEcho, type Upstream } from "./support/upstreams.ts";
import { waitFor } from "./support/wait.ts";

const GREETING = "220 greeter ready\r\n";

interface Closable {
  port: number;
  close(): Promise<void>;
}

/** An HTTP/1.1 server answering "<name> <url>". */
async function namedHttp(name: string): Promise<Closable> {
  const server = http.createServer((req, res) => res.end(`${name} ${req.url ?? ""} HTTP/${req.httpVersion}`));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => undefined),
  };
}

/** A server-first protocol (SMTP-like): the server speaks first, then echoes. */
async function greeter(): Promise<Closable> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.write(GREETING);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
  });
}

/** Writes `data` (unless undefined) and reads until `expected` bytes came back. */
function exchangeBytes(port: number, data: Buffer | undefined, expected: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const s = net.connect(port, "127.0.0.1", () => {
      if (data !== undefined) s.write(data);
    });
    s.setTimeout(10_000, () => s.destroy(new Error(`only ${n} of ${expected} bytes within 10 s`)));
    s.on("data", (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (n >= expected) {
        resolve(Buffer.concat(chunks));
        s.destroy();
      }
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error(`closed after ${n} of ${expected} bytes`)));
  });
}

describe("protocol sniffing on undeclared ports, through the control plane", () => {
  let dir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let proxy: Proxy;
  let client: XdsClient;
  let v1: Closable;
  let v2: Closable;
  let h2: Upstream;
  let echo: Closable;
  let greet: Closable;
  let ports: { web: number; h2: number; echo: number; greet: number; outbound: number };
  const acked = new Set<string>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-sniffing-"));
    const meshFile = join(dir, "mesh.yaml");
    writeFileSync(meshFile, "protocolDetectionTimeout: 200ms\n");
    store = await EmbeddedStore.open({ dataDir: join(dir, "data") });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 5, log: () => {}, meshConfigFile: meshFile });
    await cp.start();
    [v1, v2, h2, echo, greet] = [
      await namedHttp("v1"),
      await namedHttp("v2"),
      await startH2EchoServer("h2"),
      await startTcpEcho(),
      await greeter(),
    ];
    const [web, h2Port, echoPort, greetPort, outbound] = (await freePorts(5)) as number[];
    ports = { web: web!, h2: h2Port!, echo: echoPort!, greet: greetPort!, outbound: outbound! };
    const entry = (name: string, port: number, endpoints: string): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${port}, name: ${name} }]
  endpoints: ${endpoints}
---
`;
    const content =
      entry(
        "legacy",
        ports.web,
        `[{ address: 127.0.0.1, ports: { legacy: ${v1.port} }, labels: { version: v1 } }, ` +
          `{ address: 127.0.0.1, ports: { legacy: ${v2.port} }, labels: { version: v2 } }]`,
      ) +
      entry("grpcish", ports.h2, `[{ address: 127.0.0.1, ports: { grpcish: ${h2.port} } }]`) +
      entry("blob", ports.echo, `[{ address: 127.0.0.1, ports: { blob: ${echo.port} } }]`) +
      entry("mail", ports.greet, `[{ address: 127.0.0.1, ports: { mail: ${greet.port} } }]`) +
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: legacy, namespace: default }
spec:
  host: legacy.internal
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: legacy, namespace: default }
spec:
  hosts: [legacy.internal]
  http:
    - match: [{ uri: { prefix: /v2 } }]
      route: [{ destination: { host: legacy.internal, subset: v2 } }]
    - route: [{ destination: { host: legacy.internal, subset: v1 } }]
`;
    const res = await fetch(`http://127.0.0.1:${cp.apiPort}/api/v1/apply`, {
      method: "POST",
      body: JSON.stringify({ files: [{ name: "sniffed.yaml", content }] }),
    });
    assert.equal(res.status, 200, await res.text());

    const node = nodeFromIdentity({
      nodeId: "caller",
      namespace: "default",
      instanceIps: ["127.0.0.1"],
      outboundPort: ports.outbound,
    });
    proxy = new Proxy(
      { node, admin: undefined, staticResources: { listeners: [], clusters: [] }, drainTimeoutMs: 100 },
      { log: () => {} },
    );
    await proxy.start();
    client = new XdsClient({
      servers: [`127.0.0.1:${cp.xdsPort}`],
      node,
      target: proxy,
      clock: systemClock,
      log: () => {},
    });
    client.onEvent((e) => {
      if (e.kind === "ack") acked.add(e.typeUrl);
    });
    client.start();
    await waitFor(
      () => [TYPE_URL.listener, TYPE_URL.cluster, TYPE_URL.clusterLoadAssignment].every((t) => acked.has(t)),
      15_000,
    );
  });

  after(async () => {
    client?.stop();
    await proxy?.shutdown(0).catch(() => {});
    await cp?.stop();
    await store?.close();
    for (const s of [v1, v2, h2, echo, greet]) await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("HTTP/1.1 on an undeclared port is routed by the VirtualService's http routes", async () => {
    const a = await get(ports.web, "/v2/items", "legacy.internal");
    assert.deepEqual(a, { status: 200, body: "v2 /v2/items HTTP/1.1" });
    const b = await get(ports.web, "/other", `legacy.internal:${ports.web}`);
    assert.deepEqual(b, { status: 200, body: "v1 /other HTTP/1.1" });
  });

  test("h2c (prior knowledge) on an undeclared port goes on as HTTP/2", async () => {
    const session = http2.connect(`http://127.0.0.1:${ports.h2}`);
    try {
      const { status, upstream, body } = await new Promise<{ status: number; upstream: string; body: string }>(
        (resolve, reject) => {
          const req = session.request({ ":path": "/h2c", ":authority": "grpcish.internal" });
          let status = 0;
          let upstream = "";
          const chunks: Buffer[] = [];
          req.on("response", (h) => {
            status = Number(h[":status"]);
            upstream = String(h["x-upstream"]);
          });
          req.on("data", (c: Buffer) => chunks.push(c));
          req.on("end", () => resolve({ status, upstream, body: Buffer.concat(chunks).toString() }));
          req.on("error", reject);
          req.end();
        },
      );
      assert.equal(status, 200);
      assert.equal(upstream, "h2");
      const record = JSON.parse(body) as { url: string; httpVersion: string };
      assert.equal(record.url, "/h2c");
      assert.equal(record.httpVersion, "2.0");
    } finally {
      session.close();
    }
  });

  test("bytes that are not HTTP on an undeclared port are tcp_proxy'd unchanged", async () => {
    const data = Buffer.concat([
      Buffer.from([0x00, 0xff, 0x16, 0x03]),
      Buffer.from("not http\r\n"),
      Buffer.alloc(64 * 1024, 7),
    ]);
    const back = await exchangeBytes(ports.echo, data, data.length);
    assert.ok(back.equals(data), `echoed ${back.length} bytes, sent ${data.length}`);
    // TLS (even one offering http/1.1 by ALPN) is not plaintext HTTP: tcp_proxy'd as it is.
    const hello = clientHello({ sni: "blob.internal", alpn: ["http/1.1"] });
    assert.ok((await exchangeBytes(ports.echo, hello, hello.length)).equals(hello));
  });

  test("a server-first protocol on an undeclared port gets its greeting once protocolDetectionTimeout passes", async () => {
    const started = Date.now();
    const greeting = await exchangeBytes(ports.greet, undefined, GREETING.length);
    assert.equal(greeting.toString(), GREETING);
    // Nothing is forwarded before the 200ms detection timeout: the upstream is dialled only then.
    assert.ok(Date.now() - started >= 180, `greeting after ${Date.now() - started} ms`);
  });
});
