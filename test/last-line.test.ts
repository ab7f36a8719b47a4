// The last line against crashes (listener/guard.ts, cli/proxy.ts): a throw that escapes the data path's handlers
// costs the connection it happened on, is counted in server.unhandled_errors (admin /stats and /stats/prometheus)
// and logged with that connection, and every other connection keeps flowing. In the real `trellis proxy` process,
// what reaches uncaughtException/unhandledRejection is counted and logged and the process keeps serving.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { ManualClock, type Clock } from "../src/api/clock.ts";
import { Proxy } from "../src/proxy/server.ts";
import { allDomains, bootstrap, httpListener, staticCluster, tcpListener } from "./support/envoy-config.ts";
import { startEchoServer, startTcpEcho } from "./support/upstreams.ts";
import { request } from "./support/clients.ts";
import { waitFor } from "./support/wait.ts";

const TRELLIS = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));
const INJECT = new URL("./support/inject-throws.mjs", import.meta.url).href;

/** A clock that throws from now() once, when armed: a bug injected into whatever reads the time next. */
class TrapClock implements Clock {
  armed = false;
  private readonly inner = new ManualClock();
  now(): number {
    if (this.armed) {
      this.armed = false;
      throw new Error("injected: now() failed");
    }
    return this.inner.now();
  }
  wallNow(): number {
    return this.inner.wallNow();
  }
  setTimer(ms: number, fn: () => void): { cancel(): void } {
    return this.inner.setTimer(ms, fn);
  }
}

function unhandled(proxy: Proxy): number {
  return proxy.stats.toJSON().find((m) => m.name === "envoy_server_unhandled_errors")?.value ?? 0;
}

function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let got = "";
    s.on("data", (c: Buffer) => (got += c.toString("latin1")));
    s.on("end", () => resolve(got));
    s.on("error", reject);
    s.end(text);
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

describe("a throw on a downstream connection", () => {
  test("at accept (tcp_proxy picks a host): that connection is closed, counted, logged; the next one is served", async () => {
    const echo = await startTcpEcho();
    const lines: string[] = [];
    const proxy = new Proxy(
      parseBootstrap(
        JSON.stringify(bootstrap([tcpListener("tcp", { cluster: "echo" })], [staticCluster("echo", [echo.port])])),
        "test",
      ),
      { clock: new ManualClock(), log: (l) => lines.push(l) },
    );
    await proxy.start();
    try {
      const port = proxy.listenerAddresses().tcp!.port;
      const cluster = proxy.cluster("echo")!;
      const pick = cluster.pick.bind(cluster);
      cluster.pick = () => {
        cluster.pick = pick;
        throw new Error("injected: pick failed");
      };
      const victim = await connect(port);
      const victimPort = victim.localPort;
      victim.on("error", () => {});
      await waitFor(() => victim.closed);
      assert.equal(unhandled(proxy), 1);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, new RegExp(`unhandled error \\(listener tcp, 127\\.0\\.0\\.1:${victimPort} -> `));
      assert.match(lines[0]!, /injected: pick failed/);
      assert.equal(await roundTrip(port, "still serving"), "still serving");
      assert.equal(unhandled(proxy), 1);
    } finally {
      await proxy.shutdown(0);
      await echo.close();
    }
  });

  test("in a socket callback (tcp_proxy's data handler): only that connection is closed; one open beside it flows on", async () => {
    const echo = await startTcpEcho();
    const clock = new TrapClock();
    const lines: string[] = [];
    const proxy = new Proxy(
      parseBootstrap(
        JSON.stringify(bootstrap([tcpListener("tcp", { cluster: "echo" })], [staticCluster("echo", [echo.port])])),
        "test",
      ),
      { clock, log: (l) => lines.push(l) },
    );
    await proxy.start();
    try {
      const port = proxy.listenerAddresses().tcp!.port;
      const bystander = await connect(port);
      let heard = "";
      bystander.on("data", (c: Buffer) => (heard += c.toString("latin1")));
      bystander.write("a");
      await waitFor(() => heard === "a");
      const victim = await connect(port);
      const victimPort = victim.localPort;
      victim.on("error", () => {});
      await waitFor(() => proxy.cluster("echo")!.stats.upstreamCxActive.value === 2);
      clock.armed = true;
      victim.write("boom");
      await waitFor(() => victim.closed);
      assert.equal(unhandled(proxy), 1);
      assert.match(
        lines.join("\n"),
        new RegExp(`listener tcp, 127\\.0\\.0\\.1:${victimPort} -> .*now\\(\\) failed`, "s"),
      );
      bystander.write("b");
      await waitFor(() => heard === "ab");
      bystander.end();
      assert.equal(await roundTrip(port, "new"), "new");
    } finally {
      await proxy.shutdown(0);
      await echo.close();
    }
  });
});

describe("a throw in an HTTP/1.1 direct read (Node calls it, not the socket's emit)", () => {
  test("only that connection is closed, counted and logged; a keep-alive connection beside it is served on", async () => {
    const upstream = await startEchoServer();
    const clock = new TrapClock();
    const lines: string[] = [];
    const proxy = new Proxy(
      parseBootstrap(
        JSON.stringify(
          bootstrap(
            [
              httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
                codec_type: "HTTP1",
              }),
            ],
            [staticCluster("app", [upstream.port])],
          ),
        ),
        "test",
      ),
      { clock, log: (l) => lines.push(l) },
    );
    await proxy.start();
    const active = (): number =>
      proxy.stats.toJSON().find((m) => m.name === "envoy_http_downstream_cx_active")?.value ?? -1;
    try {
      const port = proxy.listenerAddresses().http!.port;
      const get = (path: string): string => `GET ${path} HTTP/1.1\r\nhost: a\r\n\r\n`;
      const bystander = await connect(port);
      let heard = "";
      bystander.on("data", (c: Buffer) => (heard += c.toString("latin1")));
      bystander.write(get("/one"));
      await waitFor(() => (heard.match(/HTTP\/1\.1 200/g) ?? []).length === 1);
      const victim = await connect(port);
      const victimPort = victim.localPort;
      victim.on("error", () => {});
      await waitFor(() => active() === 2);
      clock.armed = true; // the next read's first step (the connection's activity time) throws
      victim.write(get("/boom"));
      await waitFor(() => victim.closed);
      assert.equal(unhandled(proxy), 1);
      assert.match(
        lines.join("\n"),
        new RegExp(`listener http, 127\\.0\\.0\\.1:${victimPort} -> .*now\\(\\) failed`, "s"),
      );
      await waitFor(() => active() === 1);
      assert.ok(!upstream.received.some((r) => r.url === "/boom"));
      bystander.write(get("/two"));
      await waitFor(() => (heard.match(/HTTP\/1\.1 200/g) ?? []).length === 2);
      bystander.end();
      assert.equal(unhandled(proxy), 1);
    } finally {
      await proxy.shutdown(0);
      await upstream.close();
    }
  });
});

describe("trellis proxy: the process-level last line", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-last-line-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

  test("an uncaught throw and an unhandled rejection are counted and logged; the process keeps serving and exits 0 on SIGTERM", async () => {
    const upstream = await startEchoServer();
    const raw = bootstrap(
      [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
      [staticCluster("app", [upstream.port])],
    );
    const file = join(dir, "bootstrap.json");
    writeFileSync(file, JSON.stringify(raw));
    const child = spawn(process.execPath, ["--import", INJECT, TRELLIS, "proxy", "--bootstrap", file], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor(() => /live \(http=/.test(stderr) || child.exitCode !== null, 30_000);
      const [, port, admin] = /live \(http=127\.0\.0\.1:(\d+) admin=(\d+)/.exec(stderr)!;
      assert.equal((await request(Number(port))).status, 200);
      child.kill("SIGUSR2");
      await waitFor(() => (stderr.match(/unhandled error/g) ?? []).length === 2, 20_000);
      assert.match(stderr, /unhandled error \(uncaughtException, no connection known\): Error: injected: a throw/);
      assert.match(stderr, /unhandled error \(unhandledRejection, no connection known\): Error: injected: a rejection/);
      assert.equal((await request(Number(port))).status, 200);
      const prom = await (await fetch(`http://127.0.0.1:${admin}/stats/prometheus`)).text();
      assert.match(prom, /^envoy_server_unhandled_errors 2$/m);
      const stats = await (await fetch(`http://127.0.0.1:${admin}/stats`)).text();
      assert.match(stats, /^server\.unhandled_errors: 2$/m);
      child.kill("SIGTERM");
      assert.equal(await exit, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await upstream.close();
    }
  });
});

describe("trellis proxy: an access log on a stdout nobody reads any more", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-epipe-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

  test("EPIPE on /dev/stdout: the lines are counted as lost, the process keeps serving, no unhandled error", async () => {
    const upstream = await startEchoServer();
    const raw = bootstrap(
      [
        httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
          access_log: [
            {
              name: "envoy.access_loggers.file",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                path: "/dev/stdout",
              },
            },
          ],
        }),
      ],
      [staticCluster("app", [upstream.port])],
    );
    const file = join(dir, "bootstrap.json");
    writeFileSync(file, JSON.stringify(raw));
    const child = spawn(process.execPath, [TRELLIS, "proxy", "--bootstrap", file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor(() => /live \(http=/.test(stderr) || child.exitCode !== null, 30_000);
      const [, port, admin] = /live \(http=127\.0\.0\.1:(\d+) admin=(\d+)/.exec(stderr)!;
      // The reader goes away: the proxy's next writes to stdout fail with EPIPE.
      child.stdout!.destroy();
      for (let i = 0; i < 5; i++) assert.equal((await request(Number(port), { path: `/r${i}` })).status, 200);
      // The access log's batch is written within its flush interval (1 s): wait for the failure to be seen.
      await waitFor(() => child.exitCode !== null || /access log|unhandled error/.test(stderr), 20_000);
      assert.equal(child.exitCode, null, stderr);
      assert.doesNotMatch(stderr, /unhandled error/);
      assert.match(stderr, /access log \/dev\/stdout: write failed: .*EPIPE/);
      assert.equal((await request(Number(port))).status, 200);
      const prom = await (await fetch(`http://127.0.0.1:${admin}/stats/prometheus`)).text();
      assert.doesNotMatch(prom, /^envoy_server_unhandled_errors [1-9]/m, stderr);
      child.kill("SIGTERM");
      assert.equal(await exit, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await upstream.close();
    }
  });
});
