// `trellis run --transparent` for real (root, Linux): a network namespace the test creates plays "the host" (its
// bridge, forwarding and NAT never touch the real host); the control plane (`trellis up`) and `trellis run`
// (bin/trellis.js) run inside it, so that the registry's health probes reach the runs' namespaces through its bridge;
// this test reads the control plane's API through the veth pair to that "host". Each case checks
// what exists — namespaces, links, rules, files, registrations, address leases — by listing them, not by assuming.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Netns, netnsSkipReason, run } from "./support/netns.ts";
import { macOf } from "../src/run/netns.ts";

const TRELLIS = resolve(import.meta.dirname, "../bin/trellis.js");
const octet = process.pid % 250;
const RANGE = "10.251.0.0/24";

interface Instance {
  service: string;
  address: string;
  nodeId: string;
  ports: { number: number; servicePort?: number; sidecarPort?: number }[];
}

async function until<T>(what: string, probe: () => T | undefined, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Started {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exit: Promise<number>;
}

describe("trellis run --transparent", { skip: netnsSkipReason }, () => {
  let host: Netns;
  let dir: string;
  let runDir: string;
  let control: string;
  let xds: string;
  let up: ChildProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-transparent-"));
    runDir = join(dir, "run");
    host = await Netns.create({ host: `10.217.${octet}.1/30`, inside: `10.217.${octet}.2/30` });
    const address = `10.217.${octet}.2`;
    const data = join(dir, "data");
    up = inHost(process.execPath, [TRELLIS, "up", "--address", address, "--data-dir", data, "--address-range", RANGE]);
    let upLog = "";
    await new Promise<void>((live, fail) => {
      up!.stderr!.on("data", (c: Buffer) => {
        upLog += c.toString();
        if (upLog.includes("trellis up: live")) live();
      });
      up!.once("exit", (code) => fail(new Error(`trellis up exited ${code}: ${upLog}`)));
    });
    control = `http://${address}:15014`;
    xds = `${address}:15010`;
  });

  after(async () => {
    for (const child of children) if (child !== up) child.kill("SIGKILL");
    // What a failed case left (its trellis run killed above): removed as a user would, before the "host" goes.
    if (host !== undefined && states().length > 0) {
      await new Promise((r) => setTimeout(r, 200));
      await hostExec(process.execPath, [TRELLIS, "cleanup"]).catch(() => undefined);
    }
    if (up !== undefined && up.exitCode === null) {
      const exited = new Promise((r) => up!.once("exit", r));
      up.kill("SIGTERM");
      await exited;
    }
    await host?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const children = new Set<ChildProcess>();
  /**
   * A command in the "host" namespace. nsenter enters its network namespace only: `ip netns exec` would also give
   * the command a mount namespace of its own, where the namespaces `trellis run` adds (bind mounts under
   * /run/netns) would stay, invisible to this test and to `trellis cleanup`. On a real host there is no such layer.
   */
  function inHost(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn("nsenter", [`--net=/run/netns/${host.name}`, "--", command, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    child.once("exit", () => children.delete(child));
    return child;
  }
  const hostExec = (command: string, args: string[]): Promise<string> =>
    run("nsenter", [`--net=/run/netns/${host.name}`, "--", "env", `TRELLIS_RUN_DIR=${runDir}`, command, ...args]);

  /** `trellis run --transparent ARGS… -- CMD…` inside the "host" namespace. */
  function trellisRun(args: string[], command: string[], extraEnv: Record<string, string> = {}): Started {
    const child = inHost(process.execPath, [TRELLIS, "run", "--transparent", "--xds", xds, ...args, "--", ...command], {
      TRELLIS_CONTROL: control,
      TRELLIS_RUN_DIR: runDir,
      ...extraEnv,
    });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (process.env.TRELLIS_TEST_VERBOSE) process.stderr.write(c);
    });
    let stdout = "";
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    const exit = new Promise<number>((r) => child.once("exit", (code, signal) => r(code ?? (signal ? -1 : 0))));
    return { child, stderr: () => stderr, stdout: () => stdout, exit };
  }

  const states = (): { name: string; address: string; hostInterface: string; pid: number }[] => {
    try {
      return readdirSync(join(runDir, "netns"))
        .filter((n) => n.endsWith(".json"))
        .map((n) => JSON.parse(readFileSync(join(runDir, "netns", n), "utf8")));
    } catch {
      return [];
    }
  };

  const api = async <T>(path: string, key: string): Promise<T[]> =>
    ((await (await fetch(control + path)).json()) as Record<string, T[]>)[key]!;
  const instances = (): Promise<Instance[]> => api("/api/v1/registry/instances", "instances");
  const leases = (): Promise<{ address: string }[]> => api("/api/v1/addresses", "leases");
  const proxies = (): Promise<{ nodeId: string; metadata: Record<string, string> }[]> =>
    api("/api/v1/proxies", "proxies");

  const namespaces = async (): Promise<string[]> =>
    (await run("ip", ["netns", "list"])).split("\n").map((l) => l.split(" ")[0] ?? "");

  /** A script that writes its pid to FILE, then waits for FILE.go and exits with STATUS. */
  const waiting = (file: string, status: number): string[] => [
    "sh",
    "-c",
    `echo $$ > ${file}.tmp && mv ${file}.tmp ${file}; while [ ! -e ${file}.go ]; do sleep 0.05; done; exit ${status}`,
  ];

  /** Everything one run creates is gone: namespace, links, bridge, rules, files, registration, address. */
  async function assertNothingLeft(name: string, service: string, hostInterface: string): Promise<void> {
    assert.equal((await namespaces()).includes(name), false, `namespace ${name} is gone`);
    const links = await hostExec("ip", ["-o", "link", "show"]);
    assert.doesNotMatch(links, new RegExp(`: ${hostInterface}[@:]`), "the host end of the veth pair is gone");
    assert.doesNotMatch(links, /: trellis0[@:]/, "the bridge is gone with the last namespace");
    const hostRules = (await hostExec("iptables", ["-t", "nat", "-S"])) + (await hostExec("iptables", ["-S"]));
    assert.doesNotMatch(hostRules, /trellis/, "no rule commented trellis is left on the host");
    assert.equal(existsSync(`/etc/netns/${name}`), false, "resolv.conf's directory is gone");
    assert.deepEqual(states(), [], "no state file is left");
    assert.deepEqual(
      (await instances()).filter((i) => i.service === service),
      [],
      "the instance is deregistered",
    );
    assert.deepEqual(await leases(), [], "the address is released");
  }

  test("while CMD runs: namespace, veth on trellis0, rules, resolv.conf, state file, registration; two runs, two addresses; all gone after; CMD's status passed through", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    const runA = trellisRun(["--service", "alpha", "--port", "8080"], waiting(a, 7));
    const runB = trellisRun(["--service", "beta"], waiting(b, 0));
    await until("both commands started", () => (existsSync(a) && existsSync(b) ? true : undefined), 60_000);
    const sets = states();
    assert.equal(sets.length, 2, JSON.stringify(sets));
    const [setA, setB] = [sets.find((s) => s.pid === runA.child.pid)!, sets.find((s) => s.pid === runB.child.pid)!];
    assert.ok(setA && setB, `state files name the pids of trellis run: ${JSON.stringify(sets)}`);
    assert.notEqual(setA.address, setB.address, "two runs get different addresses");
    assert.match(setA.name, new RegExp(`^trellis-${runA.child.pid}-\\d+$`));
    assert.ok((await namespaces()).includes(setA.name));
    // Inside: eth0 with the leased address, the default route through the gateway, the capture rules.
    const inside = await run("ip", ["-n", setA.name, "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert.match(inside, new RegExp(` ${setA.address.replaceAll(".", "\\.")}/24 `));
    assert.match(await run("ip", ["-n", setA.name, "route"]), /^default via 10\.251\.0\.1 dev eth0/m);
    // Its MAC address carries the IPv4 address, so neighbours' caches stay right when the address is leased again.
    const link = await run("ip", ["-n", setA.name, "-o", "link", "show", "dev", "eth0"]);
    assert.match(link, new RegExp(`link/ether ${macOf(setA.address)} `));
    const rules = await run("ip", ["netns", "exec", setA.name, "iptables", "-t", "nat", "-S"]);
    assert.match(rules, /-A PREROUTING -p tcp -j TRELLIS_INBOUND/);
    assert.match(rules, /-A TRELLIS_OUTPUT -m owner --gid-owner 1337 -j RETURN/);
    assert.match(rules, /-A TRELLIS_REDIRECT -p tcp -j REDIRECT --to-ports 15001/);
    assert.match(rules, /-A TRELLIS_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006/);
    assert.match(rules, /-A TRELLIS_INBOUND -p tcp -m tcp --dport 15021 -j RETURN/);
    // The "host": the veth's end on the bridge, the bridge with the gateway, forwarding on, MASQUERADE for the range.
    const links = await hostExec("ip", ["-o", "link", "show"]);
    assert.match(links, new RegExp(`: ${setA.hostInterface}@\\S+: .* master trellis0 `));
    assert.match(await hostExec("ip", ["-o", "-4", "addr", "show", "dev", "trellis0"]), / 10\.251\.0\.1\/24 /);
    assert.equal((await hostExec("cat", ["/proc/sys/net/ipv4/ip_forward"])).trim(), "1");
    assert.match(
      await hostExec("iptables", ["-t", "nat", "-S", "POSTROUTING"]),
      /-A POSTROUTING -s 10\.251\.0\.0\/24 ! -o trellis0 -m comment --comment trellis -j MASQUERADE/,
    );
    const resolv = readFileSync(`/etc/netns/${setA.name}/resolv.conf`, "utf8");
    assert.match(resolv, /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
    assert.match(resolv, /^options ndots:5$/m);
    assert.match(resolv, /^nameserver 127\.0\.0\.1$/m, "the namespace's resolver is the sidecar's DNS proxy");
    assert.match(rules, /-A OUTPUT -p udp -m udp --dport 53 -m owner ! --gid-owner 1337 -j REDIRECT --to-ports 15053/);
    // Registered at the leased address: number = servicePort = 8080 (no APP_PORT), no sidecarPort.
    const instance = (await instances()).find((i) => i.service === "alpha");
    assert.ok(instance);
    assert.equal(instance.address, setA.address);
    assert.deepEqual(
      instance.ports.map((p) => [p.number, p.servicePort ?? p.number, p.sidecarPort]),
      [[8080, 8080, undefined]],
    );
    // The sidecar is connected, in capture mode, with the namespace's address.
    const proxy = (await proxies()).find((p) => p.nodeId === instance.nodeId);
    assert.equal(proxy?.metadata.INTERCEPTION_MODE, "REDIRECT");
    assert.equal(proxy?.metadata.INSTANCE_IPS, setA.address);
    // CMD and the sidecar are the namespace's processes; the sidecar runs under gid 1337.
    const pids = (await run("ip", ["netns", "pids", setA.name])).split("\n").filter(Boolean);
    const cmdPid = readFileSync(a, "utf8").trim();
    assert.ok(pids.includes(cmdPid), `CMD ${cmdPid} is in ${setA.name} (${pids.join(" ")})`);
    const sidecarPid = pids.find((p) => p !== cmdPid)!;
    assert.match(readFileSync(`/proc/${sidecarPid}/status`, "utf8"), /^Gid:\s+1337\s+1337\s+1337\s+1337$/m);

    writeFileSync(`${a}.go`, "");
    assert.equal(await runA.exit, 7, runA.stderr());
    writeFileSync(`${b}.go`, "");
    assert.equal(await runB.exit, 0, runB.stderr());
    await assertNothingLeft(setA.name, "alpha", setA.hostInterface);
    assert.equal((await namespaces()).includes(setB.name), false);
  });

  for (const victim of ["CMD", "the sidecar"] as const)
    test(`SIGKILL of ${victim}: trellis run ends, nothing left behind`, async () => {
      const file = join(dir, `kill-${victim === "CMD" ? "cmd" : "sidecar"}`);
      const started = trellisRun(["--service", "victim", "--port", "9090"], waiting(file, 0));
      await until("CMD started", () => (existsSync(file) ? true : undefined), 60_000);
      const [set] = states();
      assert.ok(set);
      const cmdPid = Number(readFileSync(file, "utf8").trim());
      const pids = (await run("ip", ["netns", "pids", set.name])).split("\n").filter(Boolean).map(Number);
      process.kill(victim === "CMD" ? cmdPid : pids.find((p) => p !== cmdPid)!, "SIGKILL");
      const status = await started.exit;
      assert.equal(status, victim === "CMD" ? 137 : 143, started.stderr());
      if (victim === "the sidecar") assert.match(started.stderr(), /the sidecar was killed \(SIGKILL\): stopping sh/);
      await assertNothingLeft(set.name, "victim", set.hostInterface);
    });

  test("SIGTERM to trellis run: passed to CMD's group, its status (143) passed through, nothing left", async () => {
    const file = join(dir, "term");
    const started = trellisRun(["--service", "termed", "--port", "6060"], waiting(file, 0));
    await until("CMD started", () => (existsSync(file) ? true : undefined), 60_000);
    const [set] = states();
    assert.ok(set);
    started.child.kill("SIGTERM");
    assert.equal(await started.exit, 143, started.stderr());
    await assertNothingLeft(set.name, "termed", set.hostInterface);
  });

  for (const then of ["trellis cleanup", "the next trellis run --transparent"] as const)
    test(`SIGKILL of trellis run: CMD and the sidecar die with it; ${then} removes what was left`, async () => {
      const file = join(dir, `kill-run-${then.length}`);
      const started = trellisRun(["--service", "orphan", "--port", "7070"], waiting(file, 0));
      await until("CMD started", () => (existsSync(file) ? true : undefined), 60_000);
      const [set] = states();
      assert.ok(set);
      const cmdPid = Number(readFileSync(file, "utf8").trim());
      started.child.kill("SIGKILL");
      await started.exit;
      await until("CMD killed by PR_SET_PDEATHSIG", () => (existsSync(`/proc/${cmdPid}`) ? undefined : true));
      // Left behind, as nothing could catch the SIGKILL: the namespace, the state file, the registration.
      assert.ok((await namespaces()).includes(set.name));
      assert.equal(states().length, 1);
      assert.equal((await instances()).filter((i) => i.service === "orphan").length, 1);
      let out: string;
      if (then === "trellis cleanup") {
        const cleanup = inHost(process.execPath, [TRELLIS, "cleanup"], { TRELLIS_RUN_DIR: runDir });
        out = "";
        cleanup.stdout!.on("data", (c: Buffer) => (out += c.toString()));
        cleanup.stderr!.on("data", (c: Buffer) => (out += c.toString()));
        assert.equal(await new Promise((r) => cleanup.once("exit", r)), 0, out);
      } else {
        const next = trellisRun(["--service", "next"], ["true"]);
        assert.equal(await next.exit, 0, next.stderr());
        out = next.stderr();
      }
      assert.match(out, new RegExp(`removed ${set.name}, left by pid ${started.child.pid}`));
      await assertNothingLeft(set.name, "orphan", set.hostInterface);
    });

  test("end to end: Node's fetch and a raw TCP client in one transparent run reach another by name (DNS proxy, capture, VIPs)", async () => {
    const ready = join(dir, "meeting-ready");
    const server = join(dir, "meeting.cjs");
    writeFileSync(
      server,
      `const http = require("node:http"), net = require("node:net"), fs = require("node:fs");
const web = http.createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ url: req.url, host: req.headers.host, address: process.env.TRELLIS_ADDRESS }), () => {
    if (req.url === "/exit") process.exit(0);
  });
});
const echo = net.createServer((s) => s.on("data", (d) => s.write("echo " + d)));
web.listen(Number(process.env.PORT), "0.0.0.0", () =>
  echo.listen(Number(process.env.TRELLIS_PORT_TCP_ECHO), "0.0.0.0", () => fs.writeFileSync(${JSON.stringify(ready)}, "")));
`,
    );
    const client = join(dir, "caller.cjs");
    writeFileSync(
      client,
      `const net = require("node:net");
(async () => {
  const resolved = (await require("node:dns").promises.lookup("meeting")).address;
  const res = await fetch("http://meeting:8080/agenda");
  const body = await res.json();
  const tcp = await new Promise((resolve, reject) => {
    const s = net.connect(9000, "meeting.default", () => s.write("ping\\n"));
    let data = "";
    s.on("data", (c) => { data += c; if (data.includes("\\n")) { s.end(); resolve(data.trim()); } });
    s.on("error", reject);
  });
  process.stdout.write(JSON.stringify({ resolved, status: res.status, body, tcp }) + "\\n");
})().catch((err) => { process.stderr.write("caller: " + err.stack + "\\n"); process.exit(3); });
`,
    );
    const meeting = trellisRun(
      ["--service", "meeting", "--port", "8080", "--port", "tcp-echo=9000/tcp"],
      ["node", server],
    );
    try {
      await until(`meeting listening (${meeting.stderr()})`, () => (existsSync(ready) ? true : undefined), 60_000);
      const meetingSet = states().find((s) => s.pid === meeting.child.pid)!;
      // The registry's probe, from the "host", reaches meeting's address:8080 through the bridge and inbound capture.
      const health = (await instances()).find((i) => i.service === "meeting") as unknown as {
        health: { status: string };
      };
      assert.equal(health.health.status, "healthy", JSON.stringify(health));
      const caller = trellisRun(["--service", "caller"], ["node", client]);
      const status = await caller.exit;
      assert.equal(status, 0, caller.stderr());
      const seen = JSON.parse(caller.stdout()) as {
        resolved: string;
        status: number;
        body: Record<string, string>;
        tcp: string;
      };
      // The name is the DNS proxy's answer, a VIP from 240.240.0.0/16, which only the capture makes reachable.
      assert.match(seen.resolved, /^240\.240\.\d+\.\d+$/);
      assert.equal(seen.status, 200);
      assert.deepEqual(seen.body, { url: "/agenda", host: "meeting:8080", address: meetingSet.address });
      assert.equal(seen.tcp, "echo ping");
    } finally {
      meeting.child.kill("SIGTERM");
      await meeting.exit;
    }
    assert.deepEqual(states(), []);
  });

  test("--outbound with --transparent is a usage error (2): CMD dials the service itself", async () => {
    const { runCli } = await import("./support/cli.ts");
    const result = await runCli(["run", "--transparent", "--service", "x", "--outbound", "redis:6379", "--", "true"], {
      TRELLIS_CONTROL: control,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /--outbound is for explicit mode: with --transparent, CMD dials the service by its name/,
    );
    assert.deepEqual(states(), []);
  });

  test("not root: exit 2 with what is needed, nothing created", async () => {
    const child = spawn(
      "setpriv",
      [
        // uid 65534 keeps CAP_DAC_READ_SEARCH (ambient): not root, yet able to read a checkout only root may read
        // (CI clones into a 0700 temporary directory).
        ...["--reuid=65534", "--regid=65534", "--clear-groups"],
        ...["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"],
        // The bundle the suite's `trellis up` built (as root) before: nothing to write, only to read.
        ...[process.execPath, TRELLIS, "run", "--transparent", "--service", "x", "--", "true"],
      ],
      {
        cwd: resolve(import.meta.dirname, ".."),
        env: { ...process.env, TRELLIS_RUN_DIR: runDir, HOME: "/tmp" },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise((r) => child.once("exit", r));
    assert.equal(code, 2, stderr);
    assert.match(stderr, /trellis run: --transparent needs root \(running as uid 65534\)/);
    assert.match(stderr, /iproute2, iptables and util-linux/);
    assert.deepEqual(states(), []);
  });
});
