// The xDS relay and `trellis proxy --xds unix:PATH`: a real sidecar process (bin/trellis.js) reaches a real control
// plane through a Unix socket, announces INTERCEPTION_MODE and INSTANCE_IPS, and says when it is configured.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ControlPlane } from "../control/control-plane.ts";
import { EmbeddedStore } from "../control/store/embedded/store.ts";
import { runCli } from "../../test/support/cli.ts";
import { startRelay } from "./relay.ts";

const TRELLIS = resolve(import.meta.dirname, "../../bin/trellis.js");

test("trellis proxy --xds unix:PATH through the relay: configured, with INTERCEPTION_MODE and INSTANCE_IPS", async () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-relay-"));
  const store = await EmbeddedStore.open({ dataDir: join(dir, "data") });
  const cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 10, log: () => {} });
  await cp.start();
  const relay = await startRelay(join(dir, "xds.sock"), `127.0.0.1:${cp.xdsPort}`, () => {});
  const child = spawn(
    process.execPath,
    [
      TRELLIS,
      "proxy",
      ...["--xds", `unix:${relay.path}`, "--node-id", "relayed-1.default", "--namespace", "default"],
      ...["--interception-mode", "REDIRECT", "--instance-ips", "10.250.0.9", "--admin-port", "0"],
      ...["--outbound-port", "0"],
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  try {
    let stderr = "";
    await new Promise<void>((done, fail) => {
      child.stderr!.on("data", (c: Buffer) => {
        stderr += c.toString();
        if (/trellis proxy: configured \(/.test(stderr)) done();
      });
      child.once("exit", (code) => fail(new Error(`trellis proxy exited ${code}: ${stderr}`)));
    });
    const status = cp.proxies().find((p) => p.nodeId === "relayed-1.default");
    assert.ok(status, "the sidecar is connected through the relay");
    assert.equal(status.metadata.INTERCEPTION_MODE, "REDIRECT");
    assert.equal(status.metadata.INSTANCE_IPS, "10.250.0.9");
  } finally {
    child.kill("SIGKILL");
    await relay.close();
    await cp.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(existsSync(join(dir, "xds.sock")), false);
});

test("trellis proxy: TPROXY and bad instance IPs are usage errors (2), naming the flag", async () => {
  const tproxy = await runCli([
    "proxy",
    "--xds",
    "unix:/tmp/x.sock",
    "--node-id",
    "a",
    "--interception-mode",
    "TPROXY",
  ]);
  assert.equal(tproxy.code, 2);
  assert.match(tproxy.stderr, /--interception-mode expects REDIRECT, got "TPROXY" \(TPROXY is not supported\)/);
  const ips = await runCli(["proxy", "--xds", "127.0.0.1:1", "--node-id", "a", "--instance-ips", "10.0.0.300"]);
  assert.equal(ips.code, 2);
  assert.match(ips.stderr, /--instance-ips expects IPv4 addresses, comma-separated, got "10\.0\.0\.300"/);
  const xds = await runCli(["proxy", "--xds", "unix:relative.sock", "--node-id", "a"]);
  assert.equal(xds.code, 2);
  assert.match(xds.stderr, /--xds expects HOST:PORT\[,HOST:PORT…\] or unix:\/PATH, got "unix:relative\.sock"/);
});
