// The ADS server against the real proxyless gRPC client (@grpc/grpc-js-xds): a Node gRPC channel to
// xds:///helloworld resolves through Trellis's xDS server (LDS api_listener → RDS → CDS → EDS) and calls a real
// @grpc/grpc-js server on 127.0.0.1.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import * as grpcJsXds from "@grpc/grpc-js-xds";
import { Greeter, startGreeter } from "./support/greeter.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { XdsServer } from "../src/control/xds/server.ts";
import { apiListener, byName, edsCluster, loadAssignment } from "../src/control/xds/testing-resources.ts";
import type { AckEvent, Snapshot } from "../src/control/xds/types.ts";

grpcJsXds.register();

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function greeter(name: string): Promise<number> {
  const { port, server } = await startGreeter(name);
  closers.push(() => void server.forceShutdown());
  return port;
}

function locality(cluster: string, port: number): Record<string, unknown> {
  // gRPC ignores endpoints in a locality without a weight.
  const cla = loadAssignment(cluster, [["127.0.0.1", port]]) as { endpoints: Record<string, unknown>[] };
  cla.endpoints[0] = { ...cla.endpoints[0], locality: { region: "local" }, load_balancing_weight: 1 };
  return cla;
}

function proxylessSnapshot(routeAction: Record<string, unknown>, clusters: [string, number][]): Snapshot {
  const route = {
    name: "helloworld-route",
    virtual_hosts: [
      { name: "helloworld", domains: ["helloworld"], routes: [{ match: { prefix: "" }, route: routeAction }] },
    ],
  };
  return new Map([
    [TYPE_URL.listener, byName([apiListener("helloworld", "helloworld-route")])],
    [TYPE_URL.routeConfiguration, byName([route])],
    [TYPE_URL.cluster, byName(clusters.map(([c]) => edsCluster(c, { lb_policy: "ROUND_ROBIN" })))],
    [
      TYPE_URL.clusterLoadAssignment,
      byName(
        clusters.map(([c, p]) => locality(c, p)),
        "cluster_name",
      ),
    ],
  ]);
}

async function startControlPlane(snapshot: () => Snapshot, onAck?: (e: AckEvent) => void): Promise<XdsServer> {
  const logs: string[] = [];
  const xds = new XdsServer({
    source: { snapshotFor: () => snapshot() },
    host: "127.0.0.1",
    port: 0,
    log: (m) => logs.push(m),
    hooks: { onAck: (e) => onAck?.(e) },
  });
  await xds.start();
  closers.push(() => xds.stop(200));
  return xds;
}

function xdsClient(xds: XdsServer, nodeId: string): grpc.Client {
  const bootstrap = {
    xds_servers: [
      { server_uri: `127.0.0.1:${xds.port}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
    ],
    node: { id: nodeId, locality: {} },
  };
  // The per-channel form of GRPC_XDS_BOOTSTRAP_CONFIG, so that each test has its own control plane.
  const client = new Greeter("xds:///helloworld", grpc.credentials.createInsecure(), {
    "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": JSON.stringify(bootstrap),
  });
  closers.push(() => client.close());
  return client;
}

function call(client: grpc.Client): Promise<{ message: string; from: string }> {
  return new Promise((resolve, reject) =>
    (client as unknown as Record<string, (...a: unknown[]) => void>).SayHello(
      { name: "trellis" },
      { deadline: Date.now() + 10_000 },
      (err: Error | null, res: { message: string; from: string }) => (err ? reject(err) : resolve(res)),
    ),
  );
}

test("a proxyless gRPC client (xds:///helloworld) resolves through Trellis's ADS server and calls the backend", async () => {
  const port = await greeter("v1");
  const xds = await startControlPlane(() => proxylessSnapshot({ cluster: "helloworld-v1" }, [["helloworld-v1", port]]));
  const client = xdsClient(xds, "proxyless-1");
  const res = await call(client);
  assert.deepEqual(res, { message: "hello trellis", from: "v1" });
  const [status] = xds.proxies();
  assert.equal(status.nodeId, "proxyless-1");
  const types = new Map(status.types.map((t) => [t.typeUrl, t]));
  for (const t of Object.values(TYPE_URL)) {
    assert.ok(types.get(t)?.ackedVersion, `${t} ACKed`);
    assert.equal(types.get(t)?.ackedVersion, types.get(t)?.sentVersion);
  }
});

test("weighted routing between two backends follows the weights (80/20 within binomial bounds)", async () => {
  const [p1, p2] = [await greeter("v1"), await greeter("v2")];
  let weights = [80, 20];
  let ackListener: ((e: AckEvent) => void) | undefined;
  const xds = await startControlPlane(
    () =>
      proxylessSnapshot(
        {
          weighted_clusters: {
            clusters: [
              { name: "helloworld-v1", weight: weights[0] },
              { name: "helloworld-v2", weight: weights[1] },
            ],
          },
        },
        [
          ["helloworld-v1", p1],
          ["helloworld-v2", p2],
        ],
      ),
    (e) => ackListener?.(e),
  );
  const client = xdsClient(xds, "proxyless-2");
  const n = 400;
  let v1 = 0;
  for (let i = 0; i < n; i++) if ((await call(client)).from === "v1") v1++;
  // Binomial(400, 0.8): mean 320, sd 8; ±5 sd.
  assert.ok(Math.abs(v1 - 320) <= 40, `v1 got ${v1} of ${n}`);

  // Shift everything to v2: once the client ACKs the new route, every call goes there.
  weights = [0, 100];
  const before = xds.proxies()[0].types.find((x) => x.typeUrl === TYPE_URL.routeConfiguration)!.sentVersion;
  const acked = new Promise<void>((resolve) => {
    ackListener = (e) => {
      if (e.typeUrl === TYPE_URL.routeConfiguration && e.version !== before) resolve();
    };
  });
  xds.refreshNow();
  await acked;
  for (let i = 0; i < 50; i++) assert.equal((await call(client)).from, "v2");
});
