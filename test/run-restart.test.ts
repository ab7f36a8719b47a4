// The control plane restarting while `trellis run` workloads run: while it is down they keep serving on their last
// configuration (a client's calls through its sidecar still reach the service); when it is back, having lost its
// state (a new, empty store), the workloads register again (`trellis get workloads` lists them) and their sidecars
// reconnect and are SYNCED (`trellis ps`). The lease is 3 s here, so heartbeats come every second.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { RunMesh, until, httpGet } from "./support/run-mesh.ts";
import { runCli } from "./support/cli.ts";
import type { PsItem } from "../src/cli/ps.ts";

describe("the control plane restarting under trellis run workloads", () => {
  const mesh = new RunMesh();
  let outbound: number;

  before(async () => {
    await mesh.start(undefined, { leaseMs: 3000 });
    await mesh.httpService("desk", "v1", 8080);
    const { env } = await mesh.waitingClient("visitor");
    outbound = Number(new URL(env.HTTP_PROXY!).port);
  });

  after(async () => {
    await mesh.stop();
  });

  test("down: calls keep flowing on the last configuration; back with no state: re-registered, SYNCED again", async () => {
    const call = () => httpGet(outbound, "/while", "desk:8080");
    assert.equal((await call()).status, 200);
    await mesh.stopControlPlane();
    // Longer than a lease and a few heartbeats: the workloads' registrations and ADS streams are failing meanwhile.
    for (const deadline = Date.now() + 3500; Date.now() < deadline;) {
      const r = await call();
      assert.equal(r.status, 200, r.body);
      assert.equal((JSON.parse(r.body) as { version: string }).version, "v1");
      await new Promise((res) => setTimeout(res, 250));
    }

    await mesh.startControlPlane(true);
    const listed = await until("desk registered again", async () => {
      const r = await runCli(["get", "workloads", "-o", "json"], { TRELLIS_CONTROL: mesh.control });
      const items = (JSON.parse(r.stdout || "{}") as { items?: { service: string; state: string }[] }).items ?? [];
      return items.find((i) => i.service === "desk" && i.state === "active");
    });
    assert.equal(listed.service, "desk");
    const synced = await until("desk and visitor SYNCED with the new control plane", async () => {
      const r = await runCli(["ps", "-o", "json"], { TRELLIS_CONTROL: mesh.control });
      const items = (JSON.parse(r.stdout || "{}") as { items?: PsItem[] }).items ?? [];
      const desk = items.find((i) => i.service === "desk");
      const visitor = items.find((i) => i.kind === "client");
      return desk?.sync === "SYNCED" && desk.health === "healthy" && visitor?.sync === "SYNCED" ? items : undefined;
    });
    assert.equal(synced.find((i) => i.service === "desk")!.version, "v1");
    assert.equal((await call()).status, 200);
  });
});
