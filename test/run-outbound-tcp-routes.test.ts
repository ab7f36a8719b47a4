// `trellis run --outbound` with a VirtualService's tcp routes: the local port the run gives CMD routes by the
// service's tcp route (weights between DestinationRule subsets), not to the service's cluster as a whole. Two real
// TCP servers are the versions of one ServiceEntry (endpoint labels version v1 and v2); CMD, through the real CLI
// (`main()`), opens connections to its TRELLIS_OUTBOUND_<HOST>_<PORT> and counts who answers: 90/10 within binomial
// bounds (the whole cluster would be about 50/50, round robin over both endpoints).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { runCli } from "./support/cli.ts";
import { binomialBounds } from "./support/binomial.ts";

/** A TCP server that writes its name to each connection and closes it. */
async function startNamed(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const mesh = (v1: number, v2: number): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.default.svc.cluster.local]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {tcp: ${v1}}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {tcp: ${v2}}, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db.default.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db.default.svc.cluster.local]
  tcp:
  - route:
    - {destination: {host: db.default.svc.cluster.local, subset: v1}, weight: 90}
    - {destination: {host: db.default.svc.cluster.local, subset: v2}, weight: 10}
`;

/** CMD: N connections (8 at a time) to the --outbound port, the answers counted into the file argv[1]. */
const CLIENT = `
const net = require("node:net");
const port = Number(process.env.TRELLIS_OUTBOUND_DB_DEFAULT_5432);
const n = 300;
const counts = {};
let started = 0, done = 0;
const one = () => {
  if (started >= n) return;
  started++;
  const s = net.connect(port, "127.0.0.1");
  let body = "";
  s.on("data", (d) => (body += d));
  s.on("error", (e) => (body = "error " + e.code));
  s.on("close", () => {
    counts[body || "empty"] = (counts[body || "empty"] || 0) + 1;
    if (++done === n) require("node:fs").writeFileSync(process.argv[1], JSON.stringify(counts));
    else one();
  });
};
for (let i = 0; i < 8; i++) one();
`;

describe("trellis run --outbound with a VirtualService's tcp routes", () => {
  let dataDir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  const servers: { close(): Promise<void> }[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "trellis-run-outbound-routes-"));
    store = await EmbeddedStore.open({ dataDir });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
  });

  after(async () => {
    for (const s of servers) await s.close();
    await cp.stop();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a 90/10 tcp route between two subsets is what CMD sees through its --outbound port", async () => {
    const v1 = await startNamed("v1");
    const v2 = await startNamed("v2");
    servers.push(v1, v2);
    const res = await fetch(`http://127.0.0.1:${cp.apiPort}/api/v1/apply`, {
      method: "POST",
      body: JSON.stringify({ files: [{ name: "db.yaml", content: mesh(v1.port, v2.port) }] }),
    });
    assert.equal(res.status, 200, await res.text());
    const out = join(dataDir, "counts.json");
    const client = await runCli(
      [
        "run",
        "--service",
        "client",
        "--outbound",
        "db.default:5432",
        "--xds",
        `127.0.0.1:${cp.xdsPort}`,
        "--",
        process.execPath,
        "-e",
        CLIENT,
        out,
      ],
      { TRELLIS_CONTROL: `http://127.0.0.1:${cp.apiPort}` },
    );
    assert.equal(client.code, 0, client.stderr);
    const counts = JSON.parse(readFileSync(out, "utf8")) as Record<string, number>;
    assert.deepEqual(Object.keys(counts).sort(), ["v1", "v2"], JSON.stringify(counts));
    const [lo, hi] = binomialBounds(300, 0.1);
    assert.ok(
      counts.v2! >= lo && counts.v2! <= hi,
      `${counts.v2} of 300 to v2, expected ${lo.toFixed(0)}-${hi.toFixed(0)}`,
    );
  });
});
