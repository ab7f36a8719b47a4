// The control plane's CLI as users run it: `trellis up` as a process, `trellis proxy --xds` beside it, then apply,
// analyze (offline and against the mesh), proxy-status and proxy-config; SIGTERM stops both cleanly.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "./support/etcd.ts";
import { waitFor } from "./support/wait.ts";

const trellis = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));

function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [trellis, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function start(args: string[]): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [trellis, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

const REVIEWS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v9 }
`;

describe("trellis up, proxy --xds, apply, analyze, proxy-status, proxy-config", () => {
  let dir: string;
  let up: ReturnType<typeof start>;
  let sidecar: ReturnType<typeof start>;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-up-"));
    const [xds, api, admin, outbound] = (await freePorts(4)) as [number, number, number, number];
    up = start(["up", "--data-dir", join(dir, "data"), "--xds-port", String(xds), "--api-port", String(api)]);
    await waitFor(() => up.stderr().includes("live"), 20_000);
    env = { TRELLIS_CONTROL: `http://127.0.0.1:${api}` };
    sidecar = start([
      "proxy",
      "--xds",
      `127.0.0.1:${xds}`,
      "--node-id",
      "productpage-1",
      "--labels",
      "app=productpage",
      "--admin-port",
      String(admin),
      "--outbound-port",
      String(outbound),
    ]);
    await waitFor(() => sidecar.stderr().includes("live"), 20_000);
  });
  after(async () => {
    for (const p of [sidecar, up]) if (p && p.child.exitCode === null) p.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("analyze offline explains a subset no DestinationRule defines; apply stores it anyway", async () => {
    const file = join(dir, "reviews.yaml");
    writeFileSync(file, REVIEWS);
    const offline = await cli(env, "analyze", "--offline", "-f", file);
    assert.equal(offline.code, 1);
    assert.match(
      offline.stdout,
      /^Error \[IST0101\] \(VirtualService default\/reviews .*reviews\.yaml:8\) Referenced host\+subset in destinationrule not found: "reviews\+v9"/m,
    );
    const applied = await cli(env, "apply", "-f", file);
    assert.equal(applied.stdout, "virtualservice/reviews (default) created\n", applied.stderr);
    const online = await cli(env, "analyze");
    assert.match(online.stdout, /IST0101.*"reviews\+v9"/);
  });

  test("proxy-status shows the sidecar in sync; proxy-config shows what it is sent", async () => {
    let status = await cli(env, "proxy-status");
    const deadline = Date.now() + 20_000;
    while (!/productpage-1\s+SYNCED\s+SYNCED/.test(status.stdout) && Date.now() < deadline)
      status = await cli(env, "proxy-status");
    assert.match(status.stdout, /^NAME\s+CDS\s+LDS\s+EDS\s+RDS\s+VERSION\s+PROBLEMS\nproductpage-1\s+SYNCED\s+SYNCED/m);
    const listeners = await cli(env, "proxy-config", "listeners", "productpage-1");
    assert.match(listeners.stdout, /outbound-http\s+127\.0\.0\.1\s+\d+/);
    const json = await cli(env, "proxy-config", "routes", "productpage-1", "-o", "json");
    assert.equal((JSON.parse(json.stdout) as { name: string }[])[0]!.name, "outbound-http");
    const missing = await cli(env, "proxy-config", "clusters", "nobody");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /proxy nobody: not connected/);
  });

  test("SIGTERM stops both with status 0", async () => {
    sidecar.child.kill("SIGTERM");
    up.child.kill("SIGTERM");
    assert.equal(await sidecar.exited, 0);
    assert.equal(await up.exited, 0);
  });
});
