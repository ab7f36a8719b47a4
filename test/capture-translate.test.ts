// Issue 11, capture mode on the control-plane side: a sidecar whose node says INTERCEPTION_MODE REDIRECT (as
// `trellis run --transparent`'s does) gets the NameTable over ADS (Istio's NDS type), virtualOutbound and
// virtualInbound over LDS, and the problems report says which instances it cannot reach (registered on the host's
// loopback). The real control plane in-process, a raw ADS client on the wire, the real CLI through main().

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { decodeResource, NAME_TABLE_TYPE_URL, TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import type { DiscoveryResponse } from "../src/api/xds/wire/discovery.ts";
import { adsClient, openSotw, wireNode, type SotwClient } from "../src/control/xds/testing.ts";
import { runCli } from "./support/cli-main.ts";

const MEETING = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: meeting }
spec:
  hosts: [meeting.default.svc.cluster.local]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 10.250.0.3 }, { address: 127.0.0.1 }]
`;

const REDIS = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: redis }
spec:
  hosts: [redis.default.svc.cluster.local]
  ports: [{ number: 6379, name: tcp, protocol: TCP }]
  resolution: STATIC
  endpoints: [{ address: 10.250.0.4 }]
`;

const CAPTURE_NODE = { NAMESPACE: "default", INSTANCE_IPS: "10.250.0.9", INTERCEPTION_MODE: "REDIRECT" };

type Table = { table: Record<string, { ips: string[]; registry?: string }> };

describe("capture mode through the control plane: NDS, virtual listeners, problems", () => {
  let dir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let control: string;
  let client: grpc.Client | undefined;
  let stream: SotwClient | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-capture-"));
    store = await EmbeddedStore.open();
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 10, log: () => {} });
    await cp.start();
    control = `http://127.0.0.1:${cp.apiPort}`;
    writeFileSync(join(dir, "meeting.yaml"), MEETING);
    writeFileSync(join(dir, "redis.yaml"), REDIS);
    const applied = await runCli(control, "apply", "-f", join(dir, "meeting.yaml"));
    assert.equal(applied.code, 0, applied.stderr);
  });
  after(async () => {
    stream?.close();
    client?.close();
    await cp.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The next response of `typeUrl` (others are ACKed and skipped). */
  async function nextOf(typeUrl: string): Promise<DiscoveryResponse> {
    for (;;) {
      const r = await stream!.next();
      stream!.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce });
      if (r.type_url === typeUrl) return r;
    }
  }

  test("a capture-mode node asking for the NameTable gets one resource listing the service with its VIP", async () => {
    client = adsClient(`127.0.0.1:${cp.xdsPort}`);
    stream = openSotw(client);
    stream.send({ node: wireNode("client-1", CAPTURE_NODE), type_url: NAME_TABLE_TYPE_URL, resource_names: [] });
    const nds = await nextOf(NAME_TABLE_TYPE_URL);
    assert.equal(nds.resources.length, 1);
    const table = decodeResource(nds.resources[0]!) as Table;
    const meeting = table.table["meeting.default.svc.cluster.local"];
    assert.equal(meeting?.ips.length, 1);
    assert.match(meeting!.ips[0]!, /^240\.240\.\d+\.\d+$/);
    assert.equal(meeting!.registry, "External");

    stream.send({ type_url: TYPE_URL.listener, resource_names: [] });
    const lds = await nextOf(TYPE_URL.listener);
    const names = lds.resources.map((r) => String(decodeResource(r).name)).sort();
    assert.deepEqual(names, ["0.0.0.0_8080", "virtualInbound", "virtualOutbound"]);
  });

  test("a new service is pushed in a new NameTable; the existing host keeps its VIP", async () => {
    stream!.send({ type_url: NAME_TABLE_TYPE_URL, resource_names: [] });
    const before = decodeResource((await nextOf(NAME_TABLE_TYPE_URL)).resources[0]!) as Table;
    const applied = await runCli(control, "apply", "-f", join(dir, "redis.yaml"));
    assert.equal(applied.code, 0, applied.stderr);
    const after = decodeResource((await nextOf(NAME_TABLE_TYPE_URL)).resources[0]!) as Table;
    assert.deepEqual(Object.keys(after.table), [
      "meeting.default.svc.cluster.local",
      "redis.default.svc.cluster.local",
    ]);
    assert.deepEqual(
      after.table["meeting.default.svc.cluster.local"],
      before.table["meeting.default.svc.cluster.local"],
    );
  });

  test("proxy-status NAME: the loopback endpoint a capture-mode proxy cannot reach is a Warning naming it", async () => {
    const one = await runCli(control, "proxy-status", "client-1");
    assert.equal(one.code, 0, one.stderr);
    assert.match(
      one.stdout,
      /ServiceEntry default\/meeting[^\n]*instance 127\.0\.0\.1:8080 is on the loopback, which a capture-mode proxy in its own network namespace cannot reach/,
    );
    const analyzed = await runCli(control, "analyze");
    assert.match(
      analyzed.stdout,
      /^Warning \[TRL0002\] \(ServiceEntry default\/meeting[^)]*\)[^\n]*instance 127\.0\.0\.1:8080 is on the loopback/m,
      analyzed.stdout,
    );
  });

  test("proxy-config nametable PROXY: each host with its VIP (a table, or the NameTable as JSON)", async () => {
    const shown = await runCli(control, "proxy-config", "nametable", "client-1");
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^HOST\s+ADDRESSES\s+REGISTRY\s+NAMESPACE\n/);
    assert.match(shown.stdout, /^meeting\.default\.svc\.cluster\.local\s+240\.240\.\d+\.\d+\s+External\s*$/m);
    const json = await runCli(control, "proxy-config", "nametable", "client-1", "-o", "json");
    const items = JSON.parse(json.stdout) as Table[];
    assert.equal(items.length, 1);
    assert.ok(items[0]!.table["redis.default.svc.cluster.local"] !== undefined);
  });
});
