// `trellis up --mesh-config FILE` and `trellis get meshconfig` as users run them: the real CLI (bin/trellis.js →
// main()) in processes. The file is validated at start (a bad one: exit 1, every problem with its line), shown by
// `get meshconfig` (YAML with the not-enforced fields as comments; -o json), and reloaded when it changes.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
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

const MESH = `# the mesh key of the istio ConfigMap
rootNamespace: mesh-root
trustDomain: example.org
outboundTrafficPolicy:
  mode: REGISTRY_ONLY
accessLogFile: /dev/stdout
`;

describe("trellis up --mesh-config, trellis get meshconfig", () => {
  let dir: string;
  let meshFile: string;
  let up: ReturnType<typeof start>;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-mesh-cli-"));
    meshFile = join(dir, "mesh.yaml");
    writeFileSync(meshFile, MESH);
    const [xds, api] = (await freePorts(2)) as [number, number];
    up = start([
      "up",
      "--data-dir",
      join(dir, "data"),
      "--xds-port",
      String(xds),
      "--api-port",
      String(api),
      "--mesh-config",
      meshFile,
    ]);
    await waitFor(() => up.stderr().includes("live"), 30_000);
    env = { TRELLIS_CONTROL: `http://127.0.0.1:${api}` };
  });
  after(async () => {
    if (up && up.child.exitCode === null) {
      up.child.kill("SIGTERM");
      await up.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("up logs the MeshConfig it loaded and what of it is not enforced yet, with the line", () => {
    const log = up.stderr();
    assert.match(log, /mesh config: loaded .*mesh\.yaml \(rootNamespace=mesh-root outboundTrafficPolicy=REGISTRY_ONLY/);
    assert.match(log, /line 3: trustDomain: stored, not enforced yet/);
  });

  test("get meshconfig: YAML by default (findings as comments), -o json", async () => {
    const yaml = await cli(env, "get", "meshconfig");
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.match(yaml.stdout, /^# MeshConfig from .*mesh\.yaml\n/);
    assert.match(yaml.stdout, /# Warning \[TRL0001\] line 3: trustDomain: stored, not enforced yet/);
    const shown = parseYaml(yaml.stdout) as Record<string, unknown>;
    assert.equal(shown.rootNamespace, "mesh-root");
    assert.deepEqual(shown.outboundTrafficPolicy, { mode: "REGISTRY_ONLY" });
    assert.equal(shown.accessLogFile, "/dev/stdout");

    const json = await cli(env, "get", "meshconfig", "-o", "json");
    assert.equal(json.code, 0, json.stderr);
    const view = JSON.parse(json.stdout) as { file: string; meshConfig: { trustDomain: string }; findings: unknown[] };
    assert.equal(view.file, meshFile);
    assert.equal(view.meshConfig.trustDomain, "example.org");
    assert.ok(view.findings.length >= 1);
  });

  test("the file changes: the control plane reloads it; a bad version is refused and the last good kept", async () => {
    const replace = (text: string): void => {
      writeFileSync(`${meshFile}.tmp`, text);
      renameSync(`${meshFile}.tmp`, meshFile);
    };
    replace(MESH.replace("REGISTRY_ONLY", "ALLOW_ANY"));
    await waitFor(() => up.stderr().includes("mesh config: reloaded"), 20_000);
    let shown = parseYaml((await cli(env, "get", "meshconfig")).stdout) as { outboundTrafficPolicy: unknown };
    assert.deepEqual(shown.outboundTrafficPolicy, { mode: "ALLOW_ANY" });

    replace("rootNamespace: [not, a, name]\n");
    await waitFor(() => up.stderr().includes("refused the new version"), 20_000);
    assert.match(up.stderr(), /line 1: rootNamespace: expected a string/);
    const after = await cli(env, "get", "meshconfig");
    assert.match(after.stdout, /# A newer version of the file was refused; this is the last good one:/);
    shown = parseYaml(after.stdout) as { outboundTrafficPolicy: unknown };
    assert.deepEqual(shown.outboundTrafficPolicy, { mode: "ALLOW_ANY" });
  });

  test("up with a MeshConfig whose xDS port is taken exits 1 (the file watcher does not keep it alive)", async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const [api] = (await freePorts(1)) as [number];
    const good = join(dir, "good-mesh.yaml");
    writeFileSync(good, MESH);
    try {
      const run = await cli(
        {},
        "up",
        "--data-dir",
        join(dir, "data-busy"),
        "--xds-port",
        String((busy.address() as net.AddressInfo).port),
        "--api-port",
        String(api),
        "--mesh-config",
        good,
      );
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /trellis up: cannot listen on 127\.0\.0\.1:\d+/);
    } finally {
      busy.close();
    }
  });

  test("up with a MeshConfig that does not validate exits 1, naming every problem with its line", async () => {
    const bad = join(dir, "bad-mesh.yaml");
    writeFileSync(
      bad,
      "meshConfig:\n  outboundTrafficPolicy: {mode: SOMETIMES}\n  localityLbSetting:\n    failover: [{from: a, to: a}]\n",
    );
    const [xds, api] = (await freePorts(2)) as [number, number];
    const run = await cli(
      {},
      "up",
      "--data-dir",
      join(dir, "data-bad"),
      "--xds-port",
      String(xds),
      "--api-port",
      String(api),
      "--mesh-config",
      bad,
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /trellis up: .*bad-mesh\.yaml: invalid configuration:/);
    assert.match(
      run.stderr,
      /line 2: meshConfig\.outboundTrafficPolicy\.mode: expected one of ALLOW_ANY, REGISTRY_ONLY/,
    );
    assert.match(
      run.stderr,
      /line 4: meshConfig\.localityLbSetting\.failover\[0\]: failover from and to must be different regions/,
    );
  });
});
