// `trellis proxy --bootstrap FILE` as a user runs it: a separate process. A bad bootstrap is refused before any
// port is bound, naming the file, the field and what was expected; SIGTERM drains with no request lost.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bootstrap, httpListener, allDomains, staticCluster } from "./support/envoy-config.ts";
import { startEchoServer } from "./support/upstreams.ts";
import { request } from "./support/clients.ts";

const TRELLIS = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));

function run(args: string[]): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [TRELLIS, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (c) => (err += c));
  child.stdout!.resume();
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => err, exit };
}

async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

describe("trellis proxy --bootstrap", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-cli-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

  test("a bad bootstrap: exit 1, the file, the field path and what was expected, before any port is bound", async () => {
    // The listener's port is held by this test: had the proxy tried to bind first, it would report a bind error.
    const held = await holdPort();
    try {
      const raw = bootstrap(
        [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {}, held.port)],
        [{ ...staticCluster("app", [8080]), lb_policy: "FASTEST" }],
      );
      const file = join(dir, "bad.yaml");
      writeFileSync(file, JSON.stringify(raw));
      const p = run(["proxy", "--bootstrap", file]);
      assert.equal(await p.exit, 1);
      const err = p.stderr();
      assert.match(err, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
      assert.match(err, /static_resources\.clusters\[0\]\.lb_policy/);
      assert.match(err, /FASTEST/);
      assert.doesNotMatch(err, /bind|EADDRINUSE/);
    } finally {
      await held.close();
    }
  });

  test("a port already in use: exit 1 naming the listener and the address", async () => {
    const held = await holdPort();
    try {
      const raw = bootstrap(
        [httpListener("inbound", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {}, held.port)],
        [staticCluster("app", [8080])],
      );
      const file = join(dir, "busy.yaml");
      writeFileSync(file, JSON.stringify(raw));
      const p = run(["proxy", "--bootstrap", file]);
      assert.equal(await p.exit, 1);
      assert.match(p.stderr(), new RegExp(`listener inbound: cannot bind 127\\.0\\.0\\.1:${held.port}: EADDRINUSE`));
    } finally {
      await held.close();
    }
  });

  test("YAML syntax errors name the line", async () => {
    const file = join(dir, "syntax.yaml");
    writeFileSync(file, "node:\n  id: x\n static_resources: [\n");
    const p = run(["proxy", "--bootstrap", file]);
    assert.equal(await p.exit, 1);
    assert.match(p.stderr(), /syntax\.yaml/);
    assert.match(p.stderr(), /line \d+/i);
  });

  test("a missing file is reported", async () => {
    const p = run(["proxy", "--bootstrap", join(dir, "nope.yaml")]);
    assert.equal(await p.exit, 1);
    assert.match(p.stderr(), /cannot read bootstrap/);
  });

  test("SIGTERM under load: requests in flight finish, none fails, then the process exits 0", async () => {
    let inFlight = 0;
    const holds: (() => void)[] = [];
    const upstream = await startEchoServer("slow", (_req, res) => {
      inFlight++;
      holds.push(() => res.end("done"));
    });
    const listener = await holdPort();
    const admin = await holdPort();
    const port = listener.port;
    const adminPort = admin.port;
    await listener.close();
    await admin.close();
    const raw = bootstrap(
      [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {}, port)],
      [staticCluster("app", [upstream.port])],
    );
    (raw.admin as Record<string, unknown>) = {
      address: { socket_address: { address: "127.0.0.1", port_value: adminPort } },
    };
    const file = join(dir, "drain.yaml");
    writeFileSync(file, JSON.stringify(raw));
    const p = run(["proxy", "--bootstrap", file, "--drain-timeout", "10000"]);
    try {
      await waitUntil(
        async () => (await fetch(`http://127.0.0.1:${adminPort}/ready`).catch(() => undefined))?.status === 200,
      );
      const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
      const n = 40;
      const replies = Array.from({ length: n }, () => request(port, { agent }));
      await waitUntil(async () => inFlight === n);
      p.child.kill("SIGTERM");
      // The listener stops accepting while the 40 requests are still held upstream.
      await waitUntil(async () => !(await canConnect(port)));
      for (const release of holds) release();
      const done = await Promise.all(replies);
      assert.equal(done.filter((r) => r.status === 200 && r.body === "done").length, n);
      assert.ok(done.every((r) => r.headers.connection === "close"));
      assert.equal(await p.exit, 0);
      agent.destroy();
    } finally {
      if (p.child.exitCode === null) p.child.kill("SIGKILL");
      await upstream.close();
    }
  });
});

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Polls a condition the processes under test will make true; bounded, no fixed sleep standing in for it. */
async function waitUntil(cond: () => Promise<boolean> | boolean, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > limitMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
