// Registration as a newcomer does it, through the HTTP API of a real control plane: the traps they hit are refused
// with the field and what to do (an address nobody can call, an unnamed port that would split a service in two), a
// sidecar port that accepts nothing is reported (reply, log, `trellis get workloads`), and a lease never lapses
// silently (the reply says the TTL and how to renew; an expired instance is logged and listed as expired).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, type Clock } from "../src/api/clock.ts";
import { ControlPlane } from "../src/control/control-plane.ts";
import { registeredServices } from "../src/control/registered-services.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { runCli } from "./support/cli.ts";
import { freePorts } from "./support/etcd.ts";
import { waitFor } from "./support/wait.ts";

interface Mesh {
  cp: ControlPlane;
  store: EmbeddedStore;
  logs: string[];
  url: string;
  api: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: Record<string, unknown> }>;
  close: () => Promise<void>;
}

async function startMesh(clock?: Clock): Promise<Mesh> {
  const dataDir = mkdtempSync(join(tmpdir(), "trellis-registration-"));
  const store = await EmbeddedStore.open({ dataDir });
  const logs: string[] = [];
  const cp = new ControlPlane({
    store,
    xdsPort: 0,
    apiPort: 0,
    debounceMs: 20,
    log: (line) => logs.push(line),
    ...(clock ? { clock } : {}),
  });
  await cp.start();
  const url = `http://127.0.0.1:${cp.apiPort}`;
  return {
    cp,
    store,
    logs,
    url,
    api: async (method, path, body) => {
      const res = await fetch(url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    close: async () => {
      await cp.stop();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function listen(port = 0): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => s.destroy());
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;
const errors = (json: Record<string, unknown>): string => ((json.errors as string[]) ?? []).join("\n");

describe("registration refuses the traps a newcomer hits", () => {
  let mesh: Mesh;
  const servers: net.Server[] = [];
  before(async () => {
    mesh = await startMesh();
  });
  after(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    await mesh.close();
  });

  test("an unspecified, broadcast or multicast address is refused, naming the field and what to register", async () => {
    for (const address of ["0.0.0.0", "::", "0:0:0:0:0:0:0:0", "255.255.255.255", "239.1.2.3", "ff02::1"]) {
      const r = await mesh.api("POST", "/api/v1/registry/instances", {
        service: "hello",
        address,
        ports: [{ number: 8080 }],
      });
      assert.equal(r.status, 400, address);
      assert.match(
        errors(r.json),
        new RegExp(
          `^address: "${address.replace(/\./g, "\\.")}" is (the unspecified|the broadcast|a multicast) address.*, not an address other workloads can call`,
          "m",
        ),
      );
      assert.match(errors(r.json), /127\.0\.0\.1 when everything runs on one machine/);
    }
    const listed = await mesh.api("GET", "/api/v1/registry/instances");
    assert.deepEqual(listed.json.instances, []);
  });

  test("a second instance's unnamed port on another number is refused: it would split the service in two", async () => {
    const first = await mesh.api("POST", "/api/v1/registry/instances", {
      service: "greeter",
      address: "127.0.0.1",
      labels: { version: "v1" },
      ports: [{ number: 8081 }],
    });
    assert.equal(first.status, 200, errors(first.json));
    // The same instance registering again is not a second instance.
    const again = await mesh.api("POST", "/api/v1/registry/instances", {
      service: "greeter",
      address: "127.0.0.1",
      labels: { version: "v1" },
      ports: [{ number: 8081 }],
    });
    assert.equal(again.status, 200, errors(again.json));
    const second = {
      service: "greeter",
      address: "127.0.0.1",
      labels: { version: "v2" },
      ports: [{ number: 8082 }],
    };
    const refused = await mesh.api("POST", "/api/v1/registry/instances", second);
    assert.equal(refused.status, 400);
    assert.match(
      errors(refused.json),
      /^ports\[0\]\.name: service greeter\.default already has HTTP port "http-8081" \(8081\); this unnamed port 8082 would become a second port, "http-8082", that only this instance serves/,
    );
    assert.match(errors(refused.json), /"name": "http-8081"; it is still reached at 8082/);
    assert.equal(mesh.cp.registry.list().length, 1);
    // Named as the error says: one service port, two instances, each reached at its own port.
    const joined = await mesh.api("POST", "/api/v1/registry/instances", {
      ...second,
      ports: [{ name: "http-8081", number: 8082 }],
    });
    assert.equal(joined.status, 200, errors(joined.json));
    const [service] = registeredServices(mesh.cp.registry.list()).filter((s) => s.hostname.startsWith("greeter."));
    assert.deepEqual(service!.ports, [{ name: "http-8081", number: 8081, protocol: "HTTP" }]);
    assert.deepEqual(service!.instances.map((i) => i.ports["http-8081"]!.appPort).sort(), [8081, 8082]);
    // A port the user named is their decision: a port of its own is accepted.
    const own = await mesh.api("POST", "/api/v1/registry/instances", {
      service: "greeter",
      address: "127.0.0.1",
      ports: [{ name: "admin", number: 9901 }],
    });
    assert.equal(own.status, 200, errors(own.json));
  });

  test("the reply says the lease's TTL, when it runs out and how to renew", async () => {
    const r = await mesh.api("POST", "/api/v1/registry/instances?leaseSeconds=45", {
      service: "leased",
      address: "127.0.0.1",
      ports: [{ name: "http", number: 7001 }],
    });
    assert.equal(r.status, 200);
    const lease = r.json.lease as Record<string, unknown>;
    assert.equal(lease.ttlSeconds, 45);
    assert.equal(lease.renewEverySeconds, 15);
    assert.equal(lease.renew, `PUT /api/v1/registry/instances/${encodeURIComponent(String(r.json.id))}/heartbeat`);
    const expiresIn = Date.parse(String(lease.expiresAt)) - Date.now();
    assert.ok(expiresIn > 40_000 && expiresIn <= 45_000, String(lease.expiresAt));
    assert.match(String(lease.onExpiry), /register again/);
    // Renewing by the path the reply gave.
    const [method, path] = String(lease.renew).split(" ") as [string, string];
    assert.equal((await mesh.api(method, path)).status, 200);
  });

  test("a sidecar port that accepts connections is healthy; one that does not is reported until it does", async () => {
    const sidecar = await listen();
    servers.push(sidecar);
    const good = await mesh.api("POST", "/api/v1/registry/instances", {
      service: "ratings",
      address: "127.0.0.1",
      labels: { version: "v1" },
      ports: [{ name: "http", number: 9080, sidecarPort: portOf(sidecar) }],
    });
    assert.equal(good.status, 200);
    assert.equal((good.json.health as { status: string }).status, "healthy");
    assert.deepEqual(good.json.warnings, []);

    const [missing] = (await freePorts(1)) as [number];
    const bad = await mesh.api("POST", "/api/v1/registry/instances", {
      service: "ratings",
      address: "127.0.0.1",
      labels: { version: "v2" },
      ports: [{ name: "http", number: 9081, sidecarPort: missing }],
    });
    assert.equal(bad.status, 200);
    const health = bad.json.health as { status: string; detail: string };
    assert.equal(health.status, "unreachable");
    assert.equal(health.detail, `127.0.0.1:${missing} (sidecar of port http): ECONNREFUSED`);
    assert.match(String((bad.json.warnings as string[])[0]), /nothing accepts connections at 127\.0\.0\.1:\d+/);
    assert.ok(
      mesh.logs.some((l) => l.includes(`${bad.json.id}: unreachable: 127.0.0.1:${missing}`)),
      mesh.logs.join("\n"),
    );

    const table = await runCli(["get", "workloads"], { TRELLIS_CONTROL: mesh.url });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^SERVICE\s+NAMESPACE\s+ADDRESS\s+PORTS\s+LABELS\s+HEALTH\s+LEASE\n/);
    assert.match(
      table.stdout,
      new RegExp(
        `\\nratings\\s+default\\s+127\\.0\\.0\\.1\\s+http:9080→sidecar:${portOf(sidecar)}/HTTP\\s+version=v1\\s+healthy\\s+expires in \\d+s`,
      ),
    );
    assert.match(
      table.stdout,
      /\nratings\s+default\s+127\.0\.0\.1\s+http:9081→sidecar:\d+\/HTTP\s+version=v2\s+unreachable\s+expires in/,
    );
    assert.match(
      table.stdout,
      new RegExp(`\\n${String(bad.json.id).replace(/[.[\]/]/g, "\\$&")} unreachable: 127\\.0\\.0\\.1:${missing}`),
    );

    // The sidecar comes up: the next probe finds it.
    servers.push(await listen(missing));
    await waitFor(() => mesh.logs.some((l) => l.includes(`${bad.json.id}: accepts connections, healthy`)), 10_000);
    const one = await runCli(["get", "workload", "ratings", "-o", "json"], { TRELLIS_CONTROL: mesh.url });
    assert.equal(one.code, 0, one.stderr);
    const items = (JSON.parse(one.stdout) as { items: { health: { status: string }; service: string }[] }).items;
    assert.deepEqual(
      items.map((i) => [i.service, i.health.status]),
      [
        ["ratings", "healthy"],
        ["ratings", "healthy"],
      ],
    );
  });

  test("only registrations and heartbeats through the API are probed (in-process ones, as the benchmark's, are not)", async () => {
    const [free] = (await freePorts(1)) as [number];
    const instance = mesh.cp.registry.register({
      service: "inproc",
      namespace: "default",
      labels: {},
      address: "127.0.0.1",
      ports: [{ name: "http", number: free, protocol: "HTTP", sidecarPort: undefined }],
      serviceAccount: "default",
      nodeId: undefined,
    });
    const health = async (): Promise<string> => {
      const listed = (await mesh.api("GET", "/api/v1/registry/instances")).json.instances as {
        id: string;
        health: { status: string };
      }[];
      return listed.find((i) => i.id === instance.id)!.health.status;
    };
    assert.equal(await health(), "unknown");
    assert.equal(
      (await mesh.api("PUT", `/api/v1/registry/instances/${encodeURIComponent(instance.id)}/heartbeat`)).status,
      200,
    );
    await waitFor(() => mesh.logs.some((l) => l.startsWith(`registry: ${instance.id}: unreachable`)), 5_000);
    assert.equal(await health(), "unreachable");
  });

  test("get workloads filters by namespace and name, and says when nothing matches", async () => {
    const other = await mesh.api("POST", "/api/v1/registry/instances", {
      service: "payments",
      namespace: "shop",
      address: "127.0.0.1",
      ports: [{ name: "http", number: 7100 }],
    });
    assert.equal(other.status, 200);
    const inDefault = await runCli(["get", "workloads"], { TRELLIS_CONTROL: mesh.url });
    assert.doesNotMatch(inDefault.stdout, /payments/);
    const all = await runCli(["get", "workloads", "-A", "-o", "yaml"], { TRELLIS_CONTROL: mesh.url });
    assert.match(all.stdout, /service: payments\nnamespace: shop\n/);
    const shop = await runCli(["get", "wl", "-n", "shop"], { TRELLIS_CONTROL: mesh.url });
    assert.match(
      shop.stdout,
      /\npayments\s+shop\s+127\.0\.0\.1\s+http:7100\/HTTP\s+<none>\s+(checking|healthy|unreachable)\s+expires in/,
    );
    const none = await runCli(["get", "workload", "nosuch"], { TRELLIS_CONTROL: mesh.url });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^trellis get: no workload "nosuch" in namespace default/);
  });
});

describe("a lease that runs out is never silent", () => {
  let mesh: Mesh;
  let clock: ManualClock;
  before(async () => {
    clock = new ManualClock(0, Date.now());
    mesh = await startMesh(clock);
  });
  after(() => mesh.close());

  test("expired: logged, listed as expired, a heartbeat says so; registering again brings it back", async () => {
    let storedOnce = false;
    const watch = mesh.store.watch((e) => {
      if (e.type !== "DELETED" && e.resource.kind === "WorkloadInstance") storedOnce = true;
    });
    const reg = await mesh.api("POST", "/api/v1/registry/instances?leaseSeconds=30", {
      service: "details",
      address: "127.0.0.1",
      ports: [{ name: "http", number: 9090 }],
    });
    assert.equal(reg.status, 200);
    const id = String(reg.json.id);
    // The registration reaches the store and comes back through its watch (as another replica's would) first.
    await waitFor(() => storedOnce, 5_000);
    await new Promise((r) => setImmediate(r));
    watch.close();
    clock.advance(45_000);
    assert.deepEqual(mesh.cp.registry.list(), []);
    assert.ok(
      mesh.logs.some(
        (l) =>
          l ===
          `registry: ${id}: lease expired (no heartbeat for 30 s); removed from the mesh, listed as expired by \`trellis get workloads\` until it registers again`,
      ),
      mesh.logs.join("\n"),
    );
    const listed = await mesh.api("GET", "/api/v1/registry/instances");
    assert.deepEqual(listed.json.instances, []);
    assert.deepEqual(
      (listed.json.expired as { id: string; state: string }[]).map((e) => [e.id, e.state]),
      [[id, "expired"]],
    );
    const beat = await mesh.api("PUT", `/api/v1/registry/instances/${encodeURIComponent(id)}/heartbeat`);
    assert.equal(beat.status, 404);
    assert.match(
      errors(beat.json),
      /its lease expired at .* \(no heartbeat for 30 s\); register again with POST \/api\/v1\/registry\/instances/,
    );
    const table = await runCli(["get", "workloads"], { TRELLIS_CONTROL: mesh.url });
    assert.match(
      table.stdout,
      /\ndetails\s+default\s+127\.0\.0\.1\s+http:9090\/HTTP\s+<none>\s+-\s+EXPIRED \d+s ago\n/,
    );
    const again = await mesh.api("POST", "/api/v1/registry/instances?leaseSeconds=30", {
      service: "details",
      address: "127.0.0.1",
      ports: [{ name: "http", number: 9090 }],
    });
    assert.equal(again.status, 200);
    assert.deepEqual((await mesh.api("GET", "/api/v1/registry/instances")).json.expired, []);
  });
});
