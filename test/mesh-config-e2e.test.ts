// MeshConfig taking effect in real sidecars: a control plane reading a mesh file, a caller's sidecar fed over xDS,
// an upstream registered in the mesh. accessLogFile makes the sidecar write Istio's access log; the file changed to
// JSON encoding and REGISTRY_ONLY reaches the running sidecar: JSON lines, and unknown hosts get block_all's 502.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../src/api/clock.ts";
import { mulberry32 } from "../src/api/random.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { Proxy } from "../src/proxy/server.ts";
import { XdsClient } from "../src/proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../src/proxy/xds-client/node.ts";
import { freePorts } from "./support/etcd.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { waitFor } from "./support/wait.ts";

describe("MeshConfig in running sidecars", () => {
  let dir: string;
  let meshFile: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let upstream: Upstream;
  let proxy: Proxy;
  let client: XdsClient;
  let outboundPort: number;
  const acked = new Map<string, string>();

  const writeMesh = (text: string): void => {
    writeFileSync(`${meshFile}.tmp`, text);
    renameSync(`${meshFile}.tmp`, meshFile);
  };
  const call = (host: string, path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      // A new connection each time: a connection keeps the listener configuration it started with.
      const req = http.get({ host: "127.0.0.1", port: outboundPort, path, headers: { host }, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-mesh-e2e-"));
    meshFile = join(dir, "mesh.yaml");
    writeMesh(`accessLogFile: ${join(dir, "access.log")}\n`);
    store = await EmbeddedStore.open({ dataDir: join(dir, "data") });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 5, log: () => {}, meshConfigFile: meshFile });
    await cp.start();
    upstream = await startEchoServer("ratings");
    const res = await fetch(`http://127.0.0.1:${cp.apiPort}/api/v1/registry/instances`, {
      method: "POST",
      body: JSON.stringify({
        service: "ratings",
        address: "127.0.0.1",
        ports: [{ name: "http", number: upstream.port, protocol: "HTTP" }],
      }),
    });
    assert.equal(res.status, 200);
    [outboundPort] = (await freePorts(1)) as [number];
    const node = nodeFromIdentity({ nodeId: "caller", namespace: "default", instanceIps: ["127.0.0.1"], outboundPort });
    proxy = new Proxy(
      { node, admin: undefined, staticResources: { listeners: [], clusters: [] }, drainTimeoutMs: 100 },
      { log: () => {}, random: mulberry32(7) },
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
      if (e.kind === "ack") acked.set(e.typeUrl, e.versionInfo);
    });
    client.start();
    await waitFor(() => acked.has(TYPE_URL.routeConfiguration) && acked.has(TYPE_URL.listener), 15_000);
  });

  after(async () => {
    client?.stop();
    await proxy?.shutdown(0).catch(() => {});
    await cp?.stop();
    await store?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("accessLogFile logs every request in Istio's format; a change to JSON and REGISTRY_ONLY reaches the sidecar", async () => {
    let status = await call("ratings", "/text-1");
    while (status !== 200) status = await call("ratings", "/text-1"); // until the endpoints have arrived
    const listenersBefore = acked.get(TYPE_URL.listener);
    const routesBefore = acked.get(TYPE_URL.routeConfiguration);
    writeMesh(
      `accessLogFile: ${join(dir, "access.json")}\naccessLogEncoding: JSON\noutboundTrafficPolicy: {mode: REGISTRY_ONLY}\n`,
    );
    await cp.meshConfigWatcher!.reload();
    await waitFor(
      () => acked.get(TYPE_URL.listener) !== listenersBefore && acked.get(TYPE_URL.routeConfiguration) !== routesBefore,
      10_000,
    );
    assert.equal(await call("ratings", "/json-1"), 200);
    assert.equal(await call("unknown.example.com", "/blocked"), 502);

    // Shutting the sidecar down flushes its access logs.
    client.stop();
    await proxy.shutdown(0);
    const text = readFileSync(join(dir, "access.log"), "utf8").trim().split("\n");
    const line = text.find((l) => l.includes("/text-1") && l.includes(" 200 "));
    assert.ok(line !== undefined, text.join("\n"));
    // Istio's default text format: method, path, protocol, code, flags, details ... the cluster and the route.
    assert.match(line, /^\[\S+\] "GET \/text-1 HTTP\/1\.1" 200 - via_upstream /);
    assert.match(line, / "ratings" "127\.0\.0\.1:\d+" outbound\|\d+\|\|ratings\.default\.svc\.cluster\.local /);

    const json = readFileSync(join(dir, "access.json"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ok = json.find((j) => j.path === "/json-1");
    assert.ok(ok !== undefined, JSON.stringify(json));
    assert.equal(ok.method, "GET");
    assert.equal(ok.response_code, 200);
    assert.equal(ok.authority, "ratings");
    const blocked = json.find((j) => j.path === "/blocked");
    assert.equal(blocked?.response_code, 502);
    assert.equal(blocked?.route_name, "block_all");
  });
});
