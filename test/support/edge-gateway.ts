// The harness of the Gateway API end-to-end tests: a control plane on a fresh embedded store and a real
// `trellis gateway --name edge --labels gateway.networking.k8s.io/gateway-name=edge` process fed by it, with one
// free host port for each listener port it is given. Resources go in through the control plane's API.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../../src/control/control-plane.ts";
import { EmbeddedStore } from "../../src/control/store/embedded/store.ts";
import { freePorts } from "./etcd.ts";
import { spawnGateway } from "./gateway-child.ts";

export interface EdgeGateway {
  cp: ControlPlane;
  gateway: ChildProcess;
  /** The host port of each listener port asked for, in the same order. */
  ports: number[];
  /** What the gateway has written to stderr so far. */
  readonly log: string;
  /** Applies files through the control plane's API; fails the test unless it answers 200. */
  apply(files: { name: string; content: string }[]): Promise<void>;
  /** A resource as the control plane's API gives it (with its status). */
  resource<T>(kind: string, namespace: string, name: string): Promise<T>;
  /** A route's conditions on its first parent, as `type=status/reason`. */
  routeConditions(kind: string, name: string): Promise<string[]>;
  /** Stops the gateway (SIGTERM, SIGKILL after 5 s), the control plane and the store; removes the data folder. */
  stop(): Promise<void>;
}

/** Starts the control plane and the gateway; `listeners` are the Gateway's listeners as `name=port` ("http=8080"). */
export async function startEdgeGateway(prefix: string, listeners: string[]): Promise<EdgeGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const store = await EmbeddedStore.open({ dataDir });
  const cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
  await cp.start();
  const ports = await freePorts(listeners.length);
  let log = "";
  const gateway = spawnGateway(
    [
      "--name",
      "edge",
      "--labels",
      "gateway.networking.k8s.io/gateway-name=edge",
      ...listeners.flatMap((l, i) => ["--port", `${l}:${ports[i]}`]),
    ],
    cp.xdsPort,
    `http://127.0.0.1:${cp.apiPort}`,
    (text) => (log += text),
  );
  const api = `http://127.0.0.1:${cp.apiPort}/api/v1`;
  const resource = async <T>(kind: string, namespace: string, name: string): Promise<T> =>
    (await (await fetch(`${api}/resources/${kind}/${namespace}/${name}`)).json()) as T;
  return {
    cp,
    gateway,
    ports,
    get log() {
      return log;
    },
    async apply(files) {
      const res = await fetch(`${api}/apply`, { method: "POST", body: JSON.stringify({ files }) });
      assert.equal(res.status, 200, await res.text());
    },
    resource,
    async routeConditions(kind, name) {
      const route = await resource<{
        status: { parents: { conditions: { type: string; status: string; reason: string }[] }[] };
      }>(kind, "default", name);
      return route.status.parents[0]!.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`);
    },
    async stop() {
      if (gateway.exitCode === null) {
        const exited = new Promise((r) => gateway.once("exit", r));
        gateway.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (gateway.exitCode === null) gateway.kill("SIGKILL");
      }
      await cp.stop();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
