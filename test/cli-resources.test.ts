// apply --dry-run and delete -f through the CLI's main(), against a real control plane in this process: a dry run
// stores nothing; delete -f removes every resource the files name (as kubectl does), reports the ones that are not
// there without stopping (exit 1), or passes over them with --ignore-not-found.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { runCli } from "./support/cli.ts";

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v1 }
`;
const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets:
  - name: v1
    labels: { version: v1 }
`;
const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: reviews }
spec:
  ports: [{ port: 9080, name: http }]
`;

describe("apply --dry-run and delete -f", () => {
  let dir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let env: { TRELLIS_CONTROL: string };
  let both: string;
  let vsOnly: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-cli-resources-"));
    store = await EmbeddedStore.open({ dataDir: join(dir, "data") });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    env = { TRELLIS_CONTROL: `http://127.0.0.1:${cp.apiPort}` };
    both = join(dir, "reviews.yaml");
    writeFileSync(both, `${VS}---\n${DR}`);
    vsOnly = join(dir, "vs.yaml");
    writeFileSync(vsOnly, VS);
  });
  after(async () => {
    await cp.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("apply --dry-run validates and says what would change, and stores nothing", async () => {
    const dry = await runCli(["apply", "-f", both, "--dry-run"], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /^virtualservice\/reviews \(default\) \w+ \(dry run\)\ndestinationrule\/reviews \(default\) \w+ \(dry run\)\n$/,
    );
    const get = await runCli(["get", "vs"], env);
    assert.equal(get.stdout, "No resources found.\n");
  });

  test("delete -f removes every resource the file names", async () => {
    assert.equal((await runCli(["apply", "-f", both], env)).code, 0);
    const del = await runCli(["delete", "-f", both], env);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, "virtualservice/reviews (default) deleted\ndestinationrule/reviews (default) deleted\n");
    assert.equal((await runCli(["get", "dr"], env)).stdout, "No resources found.\n");
  });

  test("resources that are not there are reported, the others still deleted, exit 1", async () => {
    assert.equal((await runCli(["apply", "-f", vsOnly], env)).code, 0);
    const del = await runCli(["delete", "-f", both], env);
    assert.equal(del.code, 1);
    assert.equal(del.stdout, "virtualservice/reviews (default) deleted\n");
    assert.equal(del.stderr, "trellis delete: destinationrule/reviews (default) not found\n");
  });

  test("--ignore-not-found passes over them silently, exit 0", async () => {
    const del = await runCli(["delete", "-f", both, "--ignore-not-found"], env);
    assert.equal(del.code, 0);
    assert.equal(del.stdout, "");
    assert.equal(del.stderr, "");
  });

  test("Kubernetes objects in the file are skipped with a notice; a directory is read like apply reads it", async () => {
    const sub = join(dir, "mixed");
    rmSync(sub, { recursive: true, force: true });
    const { mkdirSync } = await import("node:fs");
    mkdirSync(sub);
    writeFileSync(join(sub, "all.yaml"), `${SERVICE}---\n${VS}`);
    assert.equal((await runCli(["apply", "-f", vsOnly], env)).code, 0);
    const del = await runCli(["delete", "-f", sub], env);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, "virtualservice/reviews (default) deleted\n");
    assert.match(del.stderr, /^trellis delete: .*all\.yaml: document 1: kind "Service" is not stored here; skipped\n$/);
  });

  test("KIND NAME and -f together, or neither, are usage errors", async () => {
    const together = await runCli(["delete", "vs", "reviews", "-f", both], env);
    assert.equal(together.code, 2);
    assert.match(together.stderr, /give either KIND NAME or -f FILE, not both/);
    const neither = await runCli(["delete"], env);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /expected KIND NAME or -f FILE/);
  });
});
