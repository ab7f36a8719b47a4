import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MeshConfigError } from "../api/resources/mesh-config.ts";
import { TYPE_URL, decodeResource } from "../api/xds/wire/codec.ts";
import { ControlPlane } from "./control-plane.ts";
import { MeshConfigWatcher, meshConfigFindings, parseMeshConfigText } from "./mesh-config.ts";
import { createStore } from "./store/create.ts";
import type { ResourceStore } from "./store/types.ts";
import { OUTBOUND_HTTP } from "./translate/index.ts";
import type { DiscoveryResponse } from "./xds/ads-proto.ts";
import { adsClient, openSotw, wireNode } from "./xds/testing.ts";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "trellis-mesh-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the file as editors and kubectl do: a new file renamed over the old one. */
function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

describe("MeshConfig file: loading and reloading", () => {
  test("an access log format the sidecars cannot compile is refused with its field and line", () => {
    assert.throws(
      () => parseMeshConfigText("accessLogFile: /dev/stdout\naccessLogFormat: '%NO_SUCH_OPERATOR%'\n", "mesh.yaml"),
      (err: unknown) => {
        assert.ok(err instanceof MeshConfigError);
        assert.equal(err.code, "TRELLIS_MESHCONFIG_INVALID");
        assert.equal(err.problems.length, 1);
        assert.equal(err.problems[0]!.path, "accessLogFormat");
        assert.equal(err.problems[0]!.line, 2);
        assert.match(
          err.message,
          /mesh\.yaml: invalid configuration:\n {2}- line 2: accessLogFormat: .*NO_SUCH_OPERATOR/,
        );
        return true;
      },
    );
  });

  test("reload: a bad new version is refused and logged, the last good one kept; a good one applies", async () => {
    const file = join(dir, "reload.yaml");
    writeFileSync(file, "rootNamespace: first\n");
    const log: string[] = [];
    const applied: string[] = [];
    const watcher = new MeshConfigWatcher({
      file,
      log: (l) => log.push(l),
      onChange: (loaded) => applied.push(loaded.config.rootNamespace),
    });
    try {
      assert.equal((await watcher.start()).config.rootNamespace, "first");
      assert.ok(log.some((l) => l.includes("loaded") && l.includes("rootNamespace=first")));

      writeAtomically(file, "rootNamespace: second\noutboundTrafficPolicy: {mode: NOPE}\n");
      // reload() returns once the file as it is now has been read (by this call, or by the watcher's own before it).
      await watcher.reload();
      assert.equal(watcher.current.config.rootNamespace, "first");
      assert.ok(watcher.refused instanceof MeshConfigError);
      assert.ok(
        log.some((l) => l.includes("refused the new version") && l.includes("line 2: outboundTrafficPolicy.mode")),
        log.join("\n"),
      );
      assert.deepEqual(applied, []);

      writeAtomically(file, "rootNamespace: second\n");
      await watcher.reload();
      assert.equal(watcher.current.config.rootNamespace, "second");
      assert.equal(watcher.refused, undefined);
      assert.deepEqual(applied, ["second"]);
      // The same text again changes nothing.
      assert.equal((await watcher.reload()).status, "unchanged");
      assert.deepEqual(applied, ["second"]);
    } finally {
      watcher.close();
    }
  });

  test("the file watcher reloads by itself when the file changes (no explicit reload)", async () => {
    const file = join(dir, "watched.yaml");
    writeFileSync(file, "outboundTrafficPolicy: {mode: ALLOW_ANY}\n");
    const watcher = new MeshConfigWatcher({ file, log: () => {}, onChange: () => {} });
    try {
      await watcher.start();
      const changed = watcher.nextChange();
      writeAtomically(file, "outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n");
      const outcome = await changed;
      assert.equal(outcome.status, "applied");
      assert.equal(watcher.current.config.outboundTrafficPolicy.mode, "REGISTRY_ONLY");
    } finally {
      watcher.close();
    }
  });

  test("a file that disappears keeps the last good version; written back, it applies again", async () => {
    const file = join(dir, "gone.yaml");
    writeFileSync(file, "rootNamespace: kept\n");
    const log: string[] = [];
    const watcher = new MeshConfigWatcher({ file, log: (l) => log.push(l), onChange: () => {} });
    try {
      await watcher.start();
      rmSync(file);
      await watcher.reload();
      assert.equal(watcher.current.config.rootNamespace, "kept");
      assert.equal(log.filter((l) => l.includes("is gone")).length, 1);
      writeAtomically(file, "rootNamespace: kept\n");
      await watcher.reload();
      assert.ok(
        log.some((l) => l.includes("reloaded")),
        log.join("\n"),
      );
      assert.equal(watcher.current.config.rootNamespace, "kept");
    } finally {
      watcher.close();
    }
  });

  test("a file that is missing or does not validate stops the start, naming every problem", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "rootNamespace: Bad_Name\ntrustDomain: 'a b'\n");
    const watcher = new MeshConfigWatcher({ file, log: () => {}, onChange: () => {} });
    const missing = new MeshConfigWatcher({ file: join(dir, "missing.yaml"), log: () => {}, onChange: () => {} });
    await assert.rejects(missing.start(), { code: "TRELLIS_MESHCONFIG_UNREADABLE", message: /missing\.yaml: ENOENT/ });
    await assert.rejects(watcher.start(), (err: unknown) => {
      assert.ok(err instanceof MeshConfigError);
      assert.deepEqual(
        err.problems.map((p) => [p.path, p.line]),
        [
          ["rootNamespace", 1],
          ["trustDomain", 2],
        ],
      );
      return true;
    });
    watcher.close();
  });

  test("not-enforced fields as findings: file, line, field, a stable code", () => {
    const loaded = parseMeshConfigText("trustDomain: example.org\nenableTracing: true\n", "/etc/mesh.yaml");
    assert.deepEqual(
      meshConfigFindings(loaded).map((f) => [f.code, f.level, f.resource, f.path, f.line]),
      [
        ["TRL0001", "Warning", "MeshConfig /etc/mesh.yaml", "trustDomain", 1],
        ["TRL0001", "Warning", "MeshConfig /etc/mesh.yaml", "enableTracing", 2],
      ],
    );
  });
});

describe("MeshConfig through the control plane", () => {
  let store: ResourceStore;
  let cp: ControlPlane;
  const file = (): string => join(dir, "cp-mesh.yaml");
  before(async () => {
    writeFileSync(file(), "outboundTrafficPolicy:\n  mode: ALLOW_ANY\naccessLogFile: /dev/stdout\n");
    store = await createStore(undefined, undefined);
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 5, log: () => {}, meshConfigFile: file() });
    await cp.start();
  });
  after(async () => {
    await cp.stop();
    await store.close();
  });

  const virtualHosts = (r: DiscoveryResponse): string[] =>
    r.resources.flatMap((a) => ((decodeResource(a).virtual_hosts as { name: string }[]) ?? []).map((v) => v.name));

  test("a proxy's catch-all route follows outboundTrafficPolicy when the file changes; a bad file changes nothing", async () => {
    const client = adsClient(`127.0.0.1:${cp.xdsPort}`);
    const ads = openSotw(client);
    try {
      const node = wireNode("sidecar-1", { NAMESPACE: "default" });
      ads.send({ node, type_url: TYPE_URL.listener, resource_names: [] });
      const lds = await ads.next();
      // accessLogFile: the outbound HTTP connection manager writes Istio's access log to /dev/stdout.
      const outbound = lds.resources.map((a) => decodeResource(a)).find((l) => l.name === OUTBOUND_HTTP)!;
      const hcm = JSON.stringify(outbound);
      assert.ok(hcm.includes('"access_log"') && hcm.includes("/dev/stdout"), hcm);
      ads.send({
        type_url: lds.type_url,
        version_info: lds.version_info,
        response_nonce: lds.nonce,
        resource_names: [],
      });

      ads.send({ node, type_url: TYPE_URL.routeConfiguration, resource_names: [OUTBOUND_HTTP] });
      const first = await ads.next();
      assert.ok(virtualHosts(first).includes("allow_any"), virtualHosts(first).join());
      const ack = (r: DiscoveryResponse): void =>
        ads.send({
          type_url: r.type_url,
          version_info: r.version_info,
          response_nonce: r.nonce,
          resource_names: [OUTBOUND_HTTP],
        });
      ack(first);

      writeAtomically(file(), "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\naccessLogFile: /dev/stdout\n");
      await cp.meshConfigWatcher!.reload();
      assert.equal(cp.meshConfig.config.outboundTrafficPolicy.mode, "REGISTRY_ONLY");
      // The listener changes too (only ALLOW_ANY's outbound HTTP manager has the dynamic forward proxy filter):
      // acknowledge it and read on to the routes.
      let second = await ads.next();
      for (let i = 0; i < 3 && second.type_url === TYPE_URL.listener; i++) {
        ads.send({
          type_url: second.type_url,
          version_info: second.version_info,
          response_nonce: second.nonce,
          resource_names: [],
        });
        second = await ads.next();
      }
      assert.equal(second.type_url, TYPE_URL.routeConfiguration);
      assert.ok(virtualHosts(second).includes("block_all"), virtualHosts(second).join());
      assert.ok(!virtualHosts(second).includes("allow_any"));
      ack(second);

      const view = async (): Promise<Record<string, unknown>> => {
        const res = await fetch(`http://127.0.0.1:${cp.apiPort}/api/v1/meshconfig`);
        assert.equal(res.status, 200);
        return (await res.json()) as Record<string, unknown>;
      };
      const shown = await view();
      assert.equal(shown.file, file());
      assert.deepEqual((shown.meshConfig as { outboundTrafficPolicy: unknown }).outboundTrafficPolicy, {
        mode: "REGISTRY_ONLY",
      });
      assert.equal(shown.refused, undefined);

      // A bad version: refused, the proxy keeps REGISTRY_ONLY, and the API says what was refused.
      writeAtomically(file(), "outboundTrafficPolicy:\n  mode: SOMETIMES\n");
      await cp.meshConfigWatcher!.reload();
      const after = await view();
      assert.deepEqual((after.meshConfig as { outboundTrafficPolicy: unknown }).outboundTrafficPolicy, {
        mode: "REGISTRY_ONLY",
      });
      const refused = after.refused as { problems: { path: string; line: number }[] };
      assert.deepEqual(
        refused.problems.map((p) => [p.path, p.line]),
        [["outboundTrafficPolicy.mode", 2]],
      );
      assert.equal(cp.meshConfig.config.outboundTrafficPolicy.mode, "REGISTRY_ONLY");
      assert.equal(ads.buffered, 0);
    } finally {
      ads.close();
      client.close();
    }
  });
});
