// What the test/run-*.test.ts files share: a real control plane in this process (embedded store in a temporary
// directory), `trellis run` through the CLI's main(), services that stay up until a test asks them to exit, and a
// pure client whose sidecar stays up (its CMD waits) so a test can use its outbound listener with its own clients.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../../src/control/control-plane.ts";
import { EmbeddedStore } from "../../src/control/store/embedded/store.ts";
import type { Instance as RegisteredInstance } from "../../src/control/registry/types.ts";
import { runCli, type CliResult } from "./cli.ts";

import { until } from "./polling.ts";

export { until };

/** An HTTP server on $PORT answering JSON (its version label, the URL, the Host); GET /exit ends it. */
export const HTTP_SERVER = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ version: process.env.VERSION || "", url: req.url, host: req.headers.host }), () => {
    if (req.url === "/exit") process.exit(0);
  });
});
server.listen(Number(process.env.PORT), "127.0.0.1");
`;

/** A TCP server on $PORT answering "echo:" + each chunk; "exit" ends it. */
export const ECHO_SERVER = `
const net = require("node:net");
const server = net.createServer((s) => s.on("data", (d) => {
  if (String(d).startsWith("exit")) { s.end(); server.close(); return; }
  s.write("echo:" + d);
}));
server.listen(Number(process.env.PORT), "127.0.0.1");
`;

/** A CMD that writes its environment to argv[1] and waits until the file argv[2] exists. */
export const WAITING_CLIENT = `
const fs = require("node:fs");
fs.writeFileSync(process.argv[1], JSON.stringify(process.env));
const t = setInterval(() => { if (fs.existsSync(process.argv[2])) { clearInterval(t); process.exit(0); } }, 20);
`;

export class RunMesh {
  dataDir = "";
  store!: EmbeddedStore;
  cp!: ControlPlane;
  control = "";
  xds = "";
  private leaseMs: number | undefined;
  private readonly oldStores: EmbeddedStore[] = [];
  private readonly running: { stop: () => Promise<void>; done: Promise<CliResult> }[] = [];

  /**
   * `meshConfig`: the text of a MeshConfig file the control plane reads (`trellis up --mesh-config`), given the
   * data directory (for the paths it names).
   */
  async start(meshConfig?: (dataDir: string) => string, options: { leaseMs?: number } = {}): Promise<void> {
    this.leaseMs = options.leaseMs;
    this.dataDir = mkdtempSync(join(tmpdir(), "trellis-run-"));
    this.store = await EmbeddedStore.open({ dataDir: this.dataDir });
    let meshConfigFile: string | undefined;
    if (meshConfig !== undefined) {
      meshConfigFile = join(this.dataDir, "mesh.yaml");
      writeFileSync(meshConfigFile, meshConfig(this.dataDir));
    }
    this.cp = new ControlPlane({
      store: this.store,
      xdsPort: 0,
      apiPort: 0,
      debounceMs: 20,
      log: () => {},
      ...(this.leaseMs === undefined ? {} : { leaseMs: this.leaseMs }),
      ...(meshConfigFile === undefined ? {} : { meshConfigFile }),
    });
    await this.cp.start();
    this.control = `http://127.0.0.1:${this.cp.apiPort}`;
    this.xds = `127.0.0.1:${this.cp.xdsPort}`;
  }

  async stop(): Promise<void> {
    for (const r of this.running.splice(0)) await r.stop().catch(() => undefined);
    await this.cp.stop();
    await this.store.close();
    for (const old of this.oldStores.splice(0)) await old.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Runs `stop` (ending a workload the test started itself) when the mesh stops. */
  onStop(stop: () => Promise<unknown>): void {
    this.running.push({
      done: Promise.resolve({ code: 0, stdout: "", stderr: "" }),
      stop: async () => void (await stop()),
    });
  }

  /** Stops the control plane (the workloads keep running). */
  async stopControlPlane(): Promise<void> {
    await this.cp.stop();
  }

  /**
   * Starts the control plane again on the same ports; `lostState`: on a new, empty store (its resources and
   * registry gone, as a control plane whose disk was lost), so the workloads must register again.
   */
  async startControlPlane(lostState = false): Promise<void> {
    if (lostState) {
      this.oldStores.push(this.store);
      this.store = await EmbeddedStore.open({ dataDir: mkdtempSync(join(this.dataDir, "store-")) });
    }
    this.cp = new ControlPlane({
      store: this.store,
      xdsPort: Number(this.xds.split(":")[1]),
      apiPort: Number(new URL(this.control).port),
      debounceMs: 20,
      log: () => {},
      ...(this.leaseMs === undefined ? {} : { leaseMs: this.leaseMs }),
    });
    await this.cp.start();
  }

  run(args: string[]): Promise<CliResult> {
    return runCli(["run", ...args.slice(0, args.indexOf("--")), "--xds", this.xds, ...args.slice(args.indexOf("--"))], {
      TRELLIS_CONTROL: this.control,
    });
  }

  /** `trellis apply -f` of a YAML text. */
  async apply(yaml: string): Promise<void> {
    const file = join(this.dataDir, `apply-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml);
    const r = await runCli(["apply", "-f", file], { TRELLIS_CONTROL: this.control });
    if (r.code !== 0) throw new Error(`trellis apply: ${r.stderr}`);
  }

  instancesOf(service: string): RegisteredInstance[] {
    return this.cp.registry.list().filter((i) => i.service === service);
  }

  /** `trellis run` of an HTTP service (HTTP_SERVER), healthy behind its sidecar when this returns. */
  async httpService(service: string, version: string, port = 8080, extra: string[] = []): Promise<RegisteredInstance> {
    const before = new Set(this.instancesOf(service).map((i) => i.id));
    const done = this.run([
      "--service",
      service,
      "--version",
      version,
      "--port",
      String(port),
      ...extra,
      "--",
      "sh",
      "-c",
      `VERSION=${version} exec node -e '${HTTP_SERVER.replaceAll("'", "'\\''")}'`,
    ]);
    const instance = await until(`the ${service} ${version} instance`, () =>
      this.instancesOf(service).find((i) => !before.has(i.id)),
    );
    const sidecarPort = instance.ports[0]!.sidecarPort!;
    await until(`${service} ${version} behind its sidecar`, () =>
      httpGet(sidecarPort, "/", `${service}:${port}`).then(
        (r) => (r.status === 200 ? r : undefined),
        () => undefined,
      ),
    );
    this.running.push({
      done,
      stop: async () => {
        await httpGet(sidecarPort, "/exit", `${service}:${port}`).catch(() => undefined);
        await done;
      },
    });
    return instance;
  }

  /** `trellis run` of a TCP echo service (ECHO_SERVER) on a port declared TCP. */
  async echoService(service: string, port: number): Promise<RegisteredInstance> {
    const done = this.run(["--service", service, "--port", `${port}/tcp`, "--", "node", "-e", ECHO_SERVER]);
    const instance = await until(`the ${service} instance`, () => this.instancesOf(service)[0]);
    const sidecarPort = instance.ports[0]!.sidecarPort!;
    await until(`${service} behind its sidecar`, () => tcpExchange(sidecarPort, "hello").catch(() => undefined));
    this.running.push({
      done,
      stop: async () => {
        await tcpExchange(sidecarPort, "exit").catch(() => undefined);
        await done;
      },
    });
    return instance;
  }

  /** A pure client (`trellis run` with no --port) whose CMD waits: its environment, and how to end it. */
  async waitingClient(service: string, extra: string[] = []): Promise<{ env: Record<string, string> }> {
    const envFile = join(this.dataDir, `${service}-env.json`);
    const release = join(this.dataDir, `${service}-release`);
    const done = this.run(["--service", service, ...extra, "--", "node", "-e", WAITING_CLIENT, envFile, release]);
    const env = await until(`${service}'s CMD started`, () => {
      try {
        return JSON.parse(readFileSync(envFile, "utf8")) as Record<string, string>;
      } catch {
        return undefined;
      }
    });
    this.running.push({
      done,
      stop: async () => {
        writeFileSync(release, "");
        await done;
      },
    });
    return { env };
  }
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function httpGet(port: number, path: string, host: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, headers: { host } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
  });
}

/** Sends `data` on a new TCP connection and resolves with the first chunk answered. */
export function tcpExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(data));
    s.once("data", (d) => {
      resolve(String(d));
      s.destroy();
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error("closed without an answer")));
  });
}
