// `trellis run` in explicit mode, through the real CLI (`main()`) against a real control plane in this process: CMD
// (a small `node -e` program) starts once its sidecar is configured, with PORT, TRELLIS_PORT_<NAME> and HTTP_PROXY;
// its instance is registered while it runs and gone after; requests through its sidecar reach it; its exit status
// (or 128 + the signal that ended it) is trellis run's.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { runCli } from "./support/cli.ts";
import { until } from "./support/polling.ts";

/** An HTTP server on $PORT answering its environment; GET /exit/N answers and exits with status N. */
const SERVER = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  const exit = /^\\/exit\\/(\\d+)$/.exec(req.url);
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ env: process.env, url: req.url, host: req.headers.host }), () => {
    if (exit) process.exit(Number(exit[1]));
  });
});
server.listen(Number(process.env.PORT), "127.0.0.1");
`;

interface Reply {
  status: number;
  json: { env: Record<string, string>; url: string; host: string };
}

function get(port: number, path: string, host?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, headers: host ? { host } : {} }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) as Reply["json"] });
        } catch {
          reject(new Error(`${res.statusCode}: ${body}`));
        }
      });
    });
    req.on("error", reject);
  });
}

describe("trellis run (explicit mode)", () => {
  let dataDir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let control: string;
  let xds: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "trellis-run-"));
    store = await EmbeddedStore.open({ dataDir });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    control = `http://127.0.0.1:${cp.apiPort}`;
    xds = `127.0.0.1:${cp.xdsPort}`;
  });

  /** CMDs a failed test left running (their sidecar ports), ended so that the next tests start clean. */
  const serving = new Map<string, Promise<unknown>>();
  const ended = async (service: string): Promise<void> => {
    let settled = false;
    const done = serving.get(service)!.finally(() => (settled = true));
    // CMD may not be listening yet (its sidecar not configured): asked again until it exits.
    for (const deadline = Date.now() + 15_000; !settled && Date.now() < deadline;) {
      const instance = cp.registry.list().find((i) => i.service === service);
      if (instance !== undefined) await get(instance.ports[0]!.sidecarPort!, "/exit/0").catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
    serving.delete(service);
    if (settled) await done;
  };

  afterEach(async () => {
    for (const service of [...serving.keys()]) await ended(service);
  });

  after(async () => {
    await cp.stop();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("CMD serves in the mesh while it runs: registered, reached through its sidecar, gone after; its status is passed through", async () => {
    const running = runCli(
      ["run", "--service", "greeter", "--version", "v2", "--port", "8080", "--xds", xds, "--", "node", "-e", SERVER],
      { TRELLIS_CONTROL: control },
    );
    const instance = await until("the registered instance", () =>
      cp.registry.list().find((i) => i.service === "greeter"),
    );
    serving.set("greeter", running);
    assert.equal(instance.address, "127.0.0.1");
    assert.deepEqual(instance.labels, { app: "greeter", version: "v2" });
    assert.equal(instance.serviceAccount, "default");
    const [port] = instance.ports;
    assert.equal(port!.name, "http-8080");
    assert.equal(port!.servicePort, 8080);
    assert.ok(port!.sidecarPort !== undefined && port!.sidecarPort !== port!.number);

    // Through the sidecar's inbound port: CMD is already listening (the sidecar was configured before it started).
    const inbound = await until("CMD's server behind its sidecar", () =>
      get(port!.sidecarPort!, "/hello").catch(() => undefined),
    );
    assert.equal(inbound.status, 200);
    const env = inbound.json.env;
    assert.equal(env.PORT, String(port!.number), "PORT is the application's port, the one registered");
    assert.equal(env.TRELLIS_PORT_HTTP_8080, env.PORT);
    assert.match(env.HTTP_PROXY!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(env.http_proxy, env.HTTP_PROXY);
    assert.equal(env.NO_PROXY, "localhost,127.0.0.1");

    // Through the sidecar's outbound listener (what HTTP_PROXY names), by the service's name and port.
    const outboundPort = Number(new URL(env.HTTP_PROXY!).port);
    const viaMesh = await until("greeter by name through the outbound listener", () =>
      get(outboundPort, "/by-name", "greeter:8080")
        .then((r) => (r.status === 200 ? r : undefined))
        .catch(() => undefined),
    );
    assert.equal(viaMesh.json.url, "/by-name");

    // trellis get workloads: the service port callers use, the sidecar's port, the application's port.
    const listed = await runCli(["get", "workloads"], { TRELLIS_CONTROL: control });
    assert.match(
      listed.stdout,
      new RegExp(
        `\\ngreeter\\s+default\\s+127\\.0\\.0\\.1\\s+http-8080:8080→sidecar:${port!.sidecarPort}→app:${port!.number}/HTTP\\s+` +
          `app=greeter,version=v2\\s+healthy`,
      ),
    );

    await get(port!.sidecarPort!, "/exit/7");
    const result = await running;
    assert.equal(result.code, 7, result.stderr);
    assert.equal(
      cp.registry.list().find((i) => i.service === "greeter"),
      undefined,
      "deregistered when CMD exited",
    );
    assert.match(result.stderr, /exited with status 7/);
  });

  test("curl in a pure client reaches a served CMD by name through HTTP_PROXY (absolute-form to the outbound listener)", async () => {
    const meeting = runCli(
      ["run", "--service", "meeting", "--port", "8080", "--xds", xds, "--", "node", "-e", SERVER],
      { TRELLIS_CONTROL: control },
    );
    const instance = await until("the registered instance", () =>
      cp.registry.list().find((i) => i.service === "meeting"),
    );
    serving.set("meeting", meeting);
    const sidecarPort = instance.ports[0]!.sidecarPort!;
    await until("meeting's server", () => get(sidecarPort, "/").catch(() => undefined));
    const out = join(dataDir, "curl-out.json");
    const client = await runCli(
      [
        "run",
        "--service",
        "caller",
        "--xds",
        xds,
        "--",
        "curl",
        "-sS",
        "--fail",
        "--max-time",
        "5",
        "-o",
        out,
        "http://meeting:8080/agenda?day=1",
      ],
      { TRELLIS_CONTROL: control },
    );
    assert.equal(client.code, 0, client.stderr);
    const seen = JSON.parse(readFileSync(out, "utf8")) as Reply["json"];
    assert.equal(seen.url, "/agenda?day=1");
    assert.equal(seen.host, "meeting:8080");
    await get(sidecarPort, "/exit/0");
    assert.equal((await meeting).code, 0);
  });

  test("a pure client (no --port) is not registered and gets HTTP_PROXY; a status of 0 and of 3 pass through", async () => {
    const file = join(dataDir, "client-env.json");
    const script = `require("node:fs").writeFileSync(process.argv[1], JSON.stringify(process.env)); process.exit(Number(process.argv[2]))`;
    for (const status of [3, 0]) {
      const before = cp.registry.list().length;
      const result = await runCli(
        ["run", "--service", "batch", "--xds", xds, "--", "node", "-e", script, file, String(status)],
        { TRELLIS_CONTROL: control },
      );
      assert.equal(result.code, status, result.stderr);
      assert.equal(cp.registry.list().length, before);
      const env = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
      assert.match(env.HTTP_PROXY!, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(env.PORT, undefined, "no port declared: no PORT");
    }
  });

  test("SIGTERM to trellis run is passed to CMD; CMD killed by it gives 128+15 and the instance is removed", async () => {
    const running = runCli(
      ["run", "--service", "sleeper", "--port", "web=9090", "--xds", xds, "--", "node", "-e", SERVER],
      { TRELLIS_CONTROL: control },
    );
    const instance = await until("the registered instance", () =>
      cp.registry.list().find((i) => i.service === "sleeper"),
    );
    serving.set("sleeper", running);
    await until("CMD's server", () => get(instance.ports[0]!.sidecarPort!, "/").catch(() => undefined));
    process.kill(process.pid, "SIGTERM");
    const result = await running;
    assert.equal(result.code, 128 + 15, result.stderr);
    assert.equal(
      cp.registry.list().find((i) => i.service === "sleeper"),
      undefined,
    );
  });

  test("a CMD that cannot be started: status 127 (as a shell says it), the error named, the instance removed", async () => {
    const result = await runCli(
      ["run", "--service", "ghost", "--port", "8080", "--xds", xds, "--", "/nonexistent/trellis-run-cmd"],
      { TRELLIS_CONTROL: control },
    );
    assert.equal(result.code, 127, result.stderr);
    assert.match(
      result.stderr,
      /cannot start \/nonexistent\/trellis-run-cmd: spawn \/nonexistent\/trellis-run-cmd ENOENT/,
    );
    assert.equal(
      cp.registry.list().find((i) => i.service === "ghost"),
      undefined,
    );
  });

  test("no control plane: the registration is retried with the reason said, CMD not started; SIGINT then stops it (130)", async () => {
    const { freeLocalPorts } = await import("../src/run/lifecycle.ts");
    const [dead] = await freeLocalPorts(1);
    const marker = join(dataDir, "never-started");
    const running = runCli(
      [
        "run",
        "--service",
        "orphan",
        "--port",
        "8080",
        "--xds",
        `127.0.0.1:${dead}`,
        "--",
        "node",
        "-e",
        `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "started")`,
      ],
      { TRELLIS_CONTROL: `http://127.0.0.1:${dead}` },
    );
    await new Promise((r) => setTimeout(r, 700));
    process.kill(process.pid, "SIGINT");
    const result = await running;
    assert.equal(result.code, 130, result.stderr);
    assert.match(
      result.stderr,
      /cannot reach the control plane at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); .*retrying in \d+ ms/,
    );
    assert.match(result.stderr, /SIGINT: stopping before node started/);
    assert.throws(() => readFileSync(marker), /ENOENT/);
  });

  test("a registration the control plane refuses: its reason, status 1, CMD not started", async () => {
    const marker = join(dataDir, "refused-started");
    const result = await runCli(
      [
        "run",
        "--service",
        "labelled",
        "--labels",
        "bad key=v",
        "--port",
        "8080",
        "--xds",
        xds,
        "--",
        "node",
        "-e",
        `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "started")`,
      ],
      { TRELLIS_CONTROL: control },
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /the control plane refused to register labelled: labels\.bad key: not a valid label key/,
    );
    assert.throws(() => readFileSync(marker), /ENOENT/);
  });

  /** One line sent over TCP, the first reply read; rejects when the connection closes without one. */
  const exchange = (port: number, line: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => s.write(line));
      s.once("data", (d) => {
        resolve(String(d));
        s.end();
      });
      s.once("close", () => reject(new Error("closed without a reply")));
      s.once("error", reject);
    });

  test("--outbound HOST:PORT: CMD reaches a TCP service of the mesh through a local port of its sidecar, named in TRELLIS_OUTBOUND_<HOST>_<PORT>[_ADDR]", async () => {
    // A real TCP echo service in the mesh: itself a trellis run, its port declared TCP.
    const echo = runCli(
      [
        "run",
        "--service",
        "echo",
        "--port",
        "7000/tcp",
        "--xds",
        xds,
        "--",
        "node",
        "-e",
        `const net = require("node:net");
         const server = net.createServer((s) => s.on("data", (d) => {
           if (String(d).startsWith("exit")) { s.end(); server.close(); return; }
           s.write("echo:" + d);
         }));
         server.listen(Number(process.env.PORT), "127.0.0.1");`,
      ],
      { TRELLIS_CONTROL: control },
    );
    const instance = await until("the echo instance", () => cp.registry.list().find((i) => i.service === "echo"));
    assert.equal(instance.ports[0]!.protocol, "TCP");
    // Echo's CMD is up (it starts once its sidecar is configured and its instance healthy).
    await until("the echo server behind its sidecar", () =>
      exchange(instance.ports[0]!.sidecarPort!, "hello").catch(() => undefined),
    );
    const out = join(dataDir, "outbound-out.json");
    const client = await runCli(
      [
        "run",
        "--service",
        "talker",
        "--outbound",
        "echo.default:7000",
        "--xds",
        xds,
        "--",
        "node",
        "-e",
        `const net = require("node:net");
         const port = Number(process.env.TRELLIS_OUTBOUND_ECHO_DEFAULT_7000);
         const s = net.connect(port, "127.0.0.1", () => s.write("ping"));
         s.once("data", (d) => {
           require("node:fs").writeFileSync(process.argv[1], JSON.stringify({ reply: String(d), env: process.env }));
           s.end();
         });`,
        out,
      ],
      { TRELLIS_CONTROL: control },
    );
    assert.equal(client.code, 0, client.stderr);
    const seen = JSON.parse(readFileSync(out, "utf8")) as { reply: string; env: Record<string, string> };
    assert.equal(seen.reply, "echo:ping");
    const port = seen.env.TRELLIS_OUTBOUND_ECHO_DEFAULT_7000!;
    assert.match(port, /^\d+$/);
    assert.equal(seen.env.TRELLIS_OUTBOUND_ECHO_DEFAULT_7000_ADDR, `127.0.0.1:${port}`);

    // Stop the echo server through its sidecar's inbound port.
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(instance.ports[0]!.sidecarPort!, "127.0.0.1", () => s.end("exit"));
      s.on("close", () => resolve());
      s.on("error", reject);
    });
    assert.equal((await echo).code, 0);
  });

  test("--outbound to a service the mesh does not have: the error names it and the cluster expected, status 1, CMD not started, nothing registered", async () => {
    const marker = join(dataDir, "unknown-outbound-started");
    const result = await runCli(
      [
        "run",
        "--service",
        "lost",
        "--port",
        "8080",
        "--outbound",
        "nosuch.default:6379",
        "--xds",
        xds,
        "--",
        "node",
        "-e",
        `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "started")`,
      ],
      { TRELLIS_CONTROL: control },
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /--outbound "nosuch\.default:6379": no service nosuch\.default\.svc\.cluster\.local with port 6379 in the mesh \(expected cluster outbound\|6379\|\|nosuch\.default\.svc\.cluster\.local\)/,
    );
    assert.throws(() => readFileSync(marker), /ENOENT/);
    assert.equal(
      cp.registry.list().find((i) => i.service === "lost"),
      undefined,
    );
  });

  test("--service-account is registered with the instance; --no-wait starts CMD before any configuration (no ADS here)", async () => {
    const { freeLocalPorts } = await import("../src/run/lifecycle.ts");
    const [dead] = await freeLocalPorts(1);
    const release = join(dataDir, "no-wait-release");
    const started = join(dataDir, "no-wait-started");
    const running = runCli(
      [
        "run",
        "--service",
        "impatient",
        "--service-account",
        "reader",
        "--no-wait",
        "--port",
        "8080",
        "--xds",
        `127.0.0.1:${dead}`,
        "--",
        "node",
        "-e",
        `const fs = require("node:fs");
         fs.writeFileSync(process.argv[1], process.env.PORT);
         const t = setInterval(() => { if (fs.existsSync(process.argv[2])) { clearInterval(t); process.exit(4); } }, 20);`,
        started,
        release,
      ],
      { TRELLIS_CONTROL: control },
    );
    const instance = await until("the impatient instance", () =>
      cp.registry.list().find((i) => i.service === "impatient"),
    );
    assert.equal(instance.serviceAccount, "reader");
    // CMD runs although the sidecar never got a configuration (its ADS does not answer).
    const port = await until("CMD started", () => {
      try {
        return readFileSync(started, "utf8");
      } catch {
        return undefined;
      }
    });
    assert.equal(port, String(instance.ports[0]!.number));
    writeFileSync(release, "go");
    const result = await running;
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /not waited for \(--no-wait\)/);
    assert.equal(
      cp.registry.list().find((i) => i.service === "impatient"),
      undefined,
    );
  });

  /** CMD for the process-group tests: starts a grandchild that writes GOT-SIGTERM to argv[2] on SIGTERM. */
  const GROUP_CMD = `
const fs = require("node:fs");
const { spawn } = require("node:child_process");
const [info, marker, mode] = process.argv.slice(1);
const stat = (pid) => fs.readFileSync("/proc/" + pid + "/stat", "utf8").split(") ")[1].split(" ");
const grandchild = spawn(process.execPath, ["-e",
  'process.on("SIGTERM", () => { require("node:fs").writeFileSync(process.argv[1], "GOT-SIGTERM"); process.exit(0); });' +
  'setInterval(() => {}, 1000); process.send("up");', marker], { stdio: ["ignore", "ignore", "ignore", "ipc"] });
grandchild.once("message", () => {
  grandchild.disconnect();
  grandchild.unref();
  const [, , pgrp, session] = stat("self");
  fs.writeFileSync(info, JSON.stringify({ pid: process.pid, pgrp: Number(pgrp), session: Number(session), grandchild: grandchild.pid }));
  if (mode === "exit") process.exit(0);
  setInterval(() => {}, 1000);
});`;

  const readJson = <T>(file: string): T | undefined => {
    try {
      return JSON.parse(readFileSync(file, "utf8")) as T;
    } catch {
      return undefined;
    }
  };
  const alive = (pid: number): boolean => {
    try {
      // A zombie (exited, not yet reaped by whoever adopted it) is gone for this purpose.
      return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[0] !== "Z";
    } catch {
      return false;
    }
  };

  test("CMD runs in its own process group: a signal to trellis run is passed once to the whole group (CMD and what it started)", async () => {
    const info = join(dataDir, "group-info.json");
    const marker = join(dataDir, "group-marker");
    const running = runCli(["run", "--service", "grouped", "--xds", xds, "--", "node", "-e", GROUP_CMD, info, marker], {
      TRELLIS_CONTROL: control,
    });
    const seen = await until("CMD's process group", () =>
      readJson<{ pid: number; pgrp: number; session: number; grandchild: number }>(info),
    );
    try {
      const ours = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
      assert.equal(seen.pgrp, seen.pid, "CMD leads its own process group");
      assert.notEqual(seen.pgrp, Number(ours[2]), "not trellis run's (the terminal's) group");
      assert.notEqual(seen.session, Number(ours[3]), "nor its session: a terminal's Ctrl-C does not reach it directly");
      process.kill(process.pid, "SIGTERM");
      const result = await running;
      assert.equal(result.code, 128 + 15, result.stderr);
      await until(
        "the grandchild's SIGTERM",
        () => readJson<string>(marker) ?? (alive(seen.grandchild) ? undefined : "gone"),
        5000,
      );
      assert.equal(readFileSync(marker, "utf8"), "GOT-SIGTERM");
    } finally {
      if (alive(seen.grandchild)) process.kill(seen.grandchild, "SIGKILL");
    }
  });

  test("what CMD leaves running in its group when it exits is ended (SIGTERM): nothing stays outside the mesh", async () => {
    const info = join(dataDir, "leftover-info.json");
    const marker = join(dataDir, "leftover-marker");
    const result = await runCli(
      ["run", "--service", "leaver", "--xds", xds, "--", "node", "-e", GROUP_CMD, info, marker, "exit"],
      { TRELLIS_CONTROL: control },
    );
    assert.equal(result.code, 0, result.stderr);
    const seen = readJson<{ grandchild: number }>(info)!;
    try {
      await until("the leftover's end", () => (alive(seen.grandchild) ? undefined : true), 5000);
      assert.equal(readFileSync(marker, "utf8"), "GOT-SIGTERM");
    } finally {
      if (alive(seen.grandchild)) process.kill(seen.grandchild, "SIGKILL");
    }
  });

  test(
    "SIGKILL of trellis run (a child process): CMD dies with it (setpriv --pdeathsig KILL)",
    { skip: process.platform !== "linux" },
    async () => {
      const { spawn } = await import("node:child_process");
      const pidFile = join(dataDir, "orphan-pid");
      const runner = spawn(
        process.execPath,
        [
          join(import.meta.dirname, "../bin/trellis.js"),
          ...["run", "--service", "orphan", "--xds", xds, "--"],
          ...["sh", "-c", `echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; exec sleep 1000`],
        ],
        { env: { ...process.env, TRELLIS_CONTROL: control }, stdio: ["ignore", "ignore", "pipe"] },
      );
      let stderr = "";
      runner.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
      const pid = await until(
        `CMD started (${stderr})`,
        () => {
          try {
            return Number(readFileSync(pidFile, "utf8"));
          } catch {
            return undefined;
          }
        },
        60_000,
      );
      const alive = (): boolean => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      assert.ok(alive());
      runner.kill("SIGKILL");
      try {
        await until("CMD gone", () => (alive() ? undefined : true));
      } finally {
        if (alive()) process.kill(pid, "SIGKILL");
      }
    },
  );

  test("usage errors name the flag and what was expected (status 2), before anything starts", async () => {
    const cases: [string[], RegExp][] = [
      [["run", "--", "true"], /--service NAME is required/],
      [["run", "--service", "x", "--port", "http"], /no command to run|missing required argument/],
      [["run", "--service", "x", "--port", "80:0", "--", "true"], /--port "80:0": APP_PORT must be 1-65535, got 0/],
      [["run", "--service", "x", "--port", "80/udp", "--", "true"], /--port "80\/udp": the protocol must be one of/],
      [
        ["run", "--service", "x", "--port", "80", "--port", "80/tcp", "--", "true"],
        /--port "80\/tcp": port 80 is already declared by --port "80"/,
      ],
      [["run", "--service", "Bad_Name", "--", "true"], /--service expects a DNS label/],
      [["run", "--service", "x", "--outbound", "redis", "--", "true"], /--outbound "redis": expected HOST:PORT/],
      [
        ["run", "--service", "x", "--outbound", "redis:6379", "--outbound", "redis:6379", "--", "true"],
        /--outbound "redis:6379": redis:6379 is already declared/,
      ],
      [["run", "--service", "x", "--service-account", "Bad SA", "--", "true"], /--service-account expects a DNS label/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, { TRELLIS_CONTROL: control });
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    assert.equal(cp.registry.list().length, 0);
  });
});
