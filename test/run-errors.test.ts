// `trellis run` refusing to start, with nothing left behind: an application port (--port P:APP_PORT) another
// process already listens on is a clear error naming the flag and the port, status 1, CMD not started, nothing
// registered. (An unknown service in --outbound is tested in test/run.test.ts.)

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { RunMesh } from "./support/run-mesh.ts";

describe("trellis run refuses to start", () => {
  const mesh = new RunMesh();
  let taken: net.Server;
  let takenPort: number;

  before(async () => {
    await mesh.start();
    taken = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    takenPort = (taken.address() as net.AddressInfo).port;
  });

  after(async () => {
    taken.close();
    await mesh.stop();
  });

  test("--port P:APP_PORT with APP_PORT already taken: the flag and the port named, status 1, CMD not started, nothing registered", async () => {
    const marker = join(mesh.dataDir, "taken-started");
    const registered: string[] = [];
    const onEvent = (e: { kind: string; instance: { service: string } }) => {
      if (e.instance.service === "squatter") registered.push(e.kind);
    };
    const unsubscribe = mesh.cp.registry.onChange(onEvent);
    const r = await mesh.run([
      "--service",
      "squatter",
      "--port",
      `8080:${takenPort}`,
      "--",
      "node",
      "-e",
      `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "started")`,
    ]);
    unsubscribe();
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `trellis run: --port "8080:${takenPort}": application port ${takenPort} is already in use on 127\\.0\\.0\\.1`,
      ),
    );
    assert.equal(existsSync(marker), false, "CMD must not start");
    assert.deepEqual(registered, [], "nothing registered, not even for a moment");
    assert.deepEqual(mesh.instancesOf("squatter"), []);
  });
});
