// `trellis ps`: what runs in the mesh, joined from the registry and proxy-status, through the real CLI against a
// real control plane with real `trellis run` workloads: a served workload (service, version, address, service
// port, health, its sidecar SYNCED, uptime) and a pure client; -o json and yaml; one service; a name nothing has.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { RunMesh, until } from "./support/run-mesh.ts";
import { runCli } from "./support/cli.ts";
import type { PsItem } from "../src/cli/ps.ts";

describe("trellis ps", () => {
  const mesh = new RunMesh();

  before(async () => {
    await mesh.start();
    await mesh.httpService("meeting", "v2", 8080);
    await mesh.waitingClient("caller");
  });

  after(async () => {
    await mesh.stop();
  });

  const ps = (...args: string[]) => runCli(["ps", ...args], { TRELLIS_CONTROL: mesh.control });

  test("-o json: the workload with its version, address, service port, health, sync state and uptime; the client too", async () => {
    const items = await until("meeting healthy and SYNCED, caller connected", async () => {
      const r = await ps("-o", "json");
      assert.equal(r.code, 0, r.stderr);
      const list = (JSON.parse(r.stdout) as { items: PsItem[] }).items;
      const meeting = list.find((i) => i.service === "meeting");
      const caller = list.find((i) => i.kind === "client");
      return meeting?.health === "healthy" && meeting.sync === "SYNCED" && caller?.sync === "SYNCED" ? list : undefined;
    });
    const meeting = items.find((i) => i.service === "meeting")!;
    assert.equal(meeting.kind, "workload");
    assert.equal(meeting.version, "v2");
    assert.equal(meeting.namespace, "default");
    assert.equal(meeting.address, "127.0.0.1");
    assert.deepEqual(meeting.ports, ["8080/HTTP"]);
    assert.match(meeting.nodeId!, /^meeting-[a-z0-9]+\.default$/);
    assert.deepEqual(meeting.syncByType, { CDS: "SYNCED", LDS: "SYNCED", EDS: "SYNCED", RDS: "SYNCED" });
    assert.ok(typeof meeting.uptimeSeconds === "number" && meeting.uptimeSeconds >= 0);
    const caller = items.find((i) => i.kind === "client")!;
    assert.match(caller.id, /^caller-[a-z0-9]+\.default$/);
    assert.equal(caller.namespace, "default");
  });

  test("the table, -o yaml, one service, and a name nothing has", async () => {
    const table = await ps();
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^SERVICE\s+VERSION\s+NAMESPACE\s+ADDRESS\s+PORTS\s+HEALTH\s+SYNC\s+UPTIME\n/);
    assert.match(table.stdout, /\nmeeting\s+v2\s+default\s+127\.0\.0\.1\s+8080\/HTTP\s+healthy\s+SYNCED\s+\d+s\n/);
    assert.match(table.stdout, /\ncaller-[a-z0-9]+ \(client\)\s+-\s+default\s+-\s+-\s+-\s+SYNCED\s+\d+s\n/);

    const yaml = await ps("meeting", "-o", "yaml");
    assert.equal(yaml.code, 0, yaml.stderr);
    const items = (parse(yaml.stdout) as { items: PsItem[] }).items;
    assert.deepEqual(
      items.map((i) => i.service),
      ["meeting"],
    );

    const other = await ps("-n", "elsewhere");
    assert.equal(other.stdout, "Nothing runs in the mesh.\n");
    const missing = await ps("nosuch");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /trellis ps: nothing named "nosuch" runs in namespace default/);
  });
});
