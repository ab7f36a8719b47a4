// The control plane's resource API through the real CLI: apply validates every document of every file and stores
// all or none; get and delete; bad resources are refused with file, document, field and expectation.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { startApiServer, type ApiServer } from "../src/control/http/server.ts";
import { addResourceRoutes } from "../src/control/http/resources-api.ts";
import { validateFiles } from "../src/control/resource-files.ts";

const trellis = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));

function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [trellis, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const VS_ALL_V1 = `apiVersion: networking.istio.io/v1
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
metadata: { name: reviews }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;

describe("apply, get and delete through the CLI", () => {
  let store: EmbeddedStore;
  let api: ApiServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    store = await EmbeddedStore.open();
    api = await startApiServer("127.0.0.1", 0);
    addResourceRoutes(api.router, store, validateFiles);
    dir = mkdtempSync(join(tmpdir(), "trellis-apply-"));
    env = { TRELLIS_CONTROL: `http://127.0.0.1:${api.port}` };
  });
  after(async () => {
    await api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a directory of files is applied as a whole; a second apply reports unchanged and configured", async () => {
    mkdirSync(join(dir, "bookinfo"));
    writeFileSync(join(dir, "bookinfo", "vs.yaml"), VS_ALL_V1);
    writeFileSync(join(dir, "bookinfo", "dr.yaml"), DR);
    const first = await cli(env, "apply", "-f", join(dir, "bookinfo"));
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, "destinationrule/reviews (default) created\nvirtualservice/reviews (default) created\n");
    writeFileSync(join(dir, "bookinfo", "vs.yaml"), VS_ALL_V1.replace("subset: v1", "subset: v2"));
    const second = await cli(env, "apply", "-f", join(dir, "bookinfo"));
    assert.equal(
      second.stdout,
      "destinationrule/reviews (default) unchanged\nvirtualservice/reviews (default) configured\n",
    );
    const yaml = await cli(env, "get", "vs", "reviews", "-o", "yaml");
    assert.match(yaml.stdout, /subset: v2/);
    const table = await cli(env, "get", "destinationrules");
    assert.match(table.stdout, /^NAMESPACE\s+NAME\s+VERSION\ndefault\s+reviews\s+\d+\n$/);
  });

  test("one bad document anywhere: nothing is applied, every problem named with file, document and field", async () => {
    const before = await store.list();
    const bad = join(dir, "bad.yaml");
    writeFileSync(
      bad,
      `${DR.replace("name: reviews }", "name: ratings }").replace("host: reviews", "host: ratings")}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - route:
    - { destination: { host: ratings }, weight: 0 }
    - { destination: { host: ratings, subset: v2 }, weight: 0 }
`,
    );
    const r = await cli(env, "apply", "-f", bad);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml/);
    assert.match(r.stderr, /document 1/);
    assert.match(r.stderr, /weight/);
    assert.deepEqual(await store.list(), before, "nothing stored");
  });

  test("delete, and the errors of a missing resource and an unknown kind", async () => {
    assert.equal((await cli(env, "delete", "vs", "reviews")).stdout, "virtualservice/reviews (default) deleted\n");
    const again = await cli(env, "delete", "vs", "reviews");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /VirtualService default\/reviews not found/);
    assert.equal((await cli(env, "get", "widgets")).code, 2);
  });
});
