// Proxyless gRPC from Istio resources, end to end (issue 4): a real control plane (embedded store), two real
// @grpc/grpc-js greeters registered as service helloworld (version v1 and v2, protocol GRPC), a DestinationRule with
// subsets v1/v2 and a VirtualService (x-user: jason → v2, else 80/20) applied over the HTTP API; a real
// @grpc/grpc-js-xds client on xds:///helloworld whose bootstrap (GRPC_XDS_BOOTSTRAP_CONFIG) points at the control
// plane. Its node carries no GENERATOR: the xDS client's user agent ("gRPC Node Pure JS") is what makes it proxyless.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as grpcJsXds from "@grpc/grpc-js-xds";
import { Greeter, startGreeter } from "./support/greeter.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { binomialBounds } from "./support/binomial.ts";

grpcJsXds.register();

const greeter = startGreeter;

/** Polls an asynchronous condition (a call, an HTTP request) until it holds. */
async function eventually(cond: () => Promise<boolean>, limitMs: number): Promise<void> {
  const start = Date.now();
  while (!(await cond().catch(() => false))) {
    if (Date.now() - start > limitMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const rules = (v1: number, v2: number): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: helloworld }
spec:
  host: helloworld
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: helloworld }
spec:
  hosts: [helloworld]
  http:
  - name: jason
    match: [{ headers: { x-user: { exact: jason } } }]
    route: [{ destination: { host: helloworld, subset: v2 } }]
  - name: split
    route:
    - { destination: { host: helloworld, subset: v1 }, weight: ${v1} }
    - { destination: { host: helloworld, subset: v2 }, weight: ${v2} }
`;

interface TypeStatus {
  ackedVersion?: string;
  sentVersion?: string;
  subscribed?: string[];
}

describe("proxyless gRPC from a VirtualService and a DestinationRule", () => {
  let dataDir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let client: grpc.Client;
  const servers: grpc.Server[] = [];
  const nodeId = "grpc-client-1";

  const api = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://127.0.0.1:${cp.apiPort}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const out = (await res.json()) as Record<string, unknown>;
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(out)}`);
    return out;
  };
  const status = async (): Promise<Record<string, TypeStatus> | undefined> => {
    const proxies = (await api("GET", "/api/v1/proxies")).proxies as {
      nodeId: string;
      types: Record<string, TypeStatus>;
    }[];
    return proxies.find((p) => p.nodeId === nodeId)?.types;
  };
  const call = (user?: string): Promise<string> => {
    const metadata = new grpc.Metadata();
    if (user !== undefined) metadata.set("x-user", user);
    return new Promise((resolve, reject) =>
      (client as unknown as Record<string, (...a: unknown[]) => void>).SayHello(
        { name: "trellis" },
        metadata,
        { deadline: Date.now() + 10_000 },
        (err: Error | null, res: { from: string }) => (err ? reject(err) : resolve(res.from)),
      ),
    );
  };
  const calls = async (n: number, user?: string): Promise<string[]> => {
    const out: string[] = [];
    // Sequential: each call picks its cluster independently, so the count is binomial.
    for (let i = 0; i < n; i++) out.push(await call(user));
    return out;
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "trellis-proxyless-"));
    store = await EmbeddedStore.open({ dataDir });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    for (const version of ["v1", "v2"]) {
      const g = await greeter(version);
      servers.push(g.server);
      await api("POST", "/api/v1/registry/instances", {
        service: "helloworld",
        labels: { app: "helloworld", version },
        address: "127.0.0.1",
        ports: [{ name: "grpc", number: g.port, protocol: "GRPC" }],
        nodeId: `helloworld-${version}`,
      });
    }
    await api("POST", "/api/v1/apply", { files: [{ name: "helloworld.yaml", content: rules(80, 20) }] });
    // The bootstrap a user writes: the control plane's xDS port, a node id and its namespace.
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [
        { server_uri: `127.0.0.1:${cp.xdsPort}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
      ],
      node: { id: nodeId, metadata: { NAMESPACE: "default" }, locality: {} },
    });
    client = new Greeter("xds:///helloworld", grpc.credentials.createInsecure());
    // Ready once the VirtualService is in force: without it, jason's calls would alternate between v1 and v2.
    await eventually(async () => (await calls(20, "jason")).every((v) => v === "v2"), 15_000);
  });

  after(async () => {
    client?.close();
    // Let the xDS client drop its watches while the control plane still answers: a watch restarted against a
    // stopped server arms grpc-js-xds's 15 s does-not-exist timer, which would hold the process open.
    await new Promise((r) => setTimeout(r, 200));
    for (const s of servers) s.forceShutdown();
    await cp?.stop();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("the client asks LDS for its target by name and ACKs every type", async () => {
    const types = (await status())!;
    assert.deepEqual(types[TYPE_URL.listener]!.subscribed, ["helloworld"]);
    for (const t of Object.values(TYPE_URL)) {
      assert.ok(types[t]?.ackedVersion, `${t} ACKed`);
      assert.equal(types[t]!.ackedVersion, types[t]!.sentVersion, `${t}: the last version sent is ACKed`);
    }
  });

  test("the header match sends every call with x-user: jason to v2", async () => {
    assert.deepEqual([...new Set(await calls(200, "jason"))], ["v2"]);
  });

  test("the 80/20 split is followed within 99.9 % binomial bounds", async () => {
    const n = 500;
    const results = await calls(n, "someone-else");
    const toV2 = results.filter((r) => r === "v2").length;
    assert.equal(results.filter((r) => r !== "v1" && r !== "v2").length, 0);
    const [lo, hi] = binomialBounds(n, 0.2);
    assert.ok(toV2 >= lo && toV2 <= hi, `${toV2} of ${n} to v2, expected ${lo.toFixed(0)}-${hi.toFixed(0)}`);
  });

  test("0/100 applied: once the client ACKs the new routes, every new call goes to v2", async () => {
    const before = (await status())![TYPE_URL.routeConfiguration]!.ackedVersion;
    await api("POST", "/api/v1/apply", { files: [{ name: "helloworld.yaml", content: rules(0, 100) }] });
    await eventually(async () => {
      const rds = (await status())![TYPE_URL.routeConfiguration]!;
      return rds.ackedVersion !== before && rds.ackedVersion === rds.sentVersion;
    }, 5_000);
    assert.deepEqual([...new Set(await calls(200))], ["v2"]);
  });
});
