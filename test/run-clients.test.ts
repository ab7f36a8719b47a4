// Clients that honour the proxy variables, unchanged, through `trellis run`: Python's urllib calls a mesh service by
// name; and a 90/10 VirtualService split between two `trellis run` versions of one service, seen by 400 urllib
// requests of a `trellis run` client, within binomial bounds (99.9 %, z = 3.29).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RunMesh, until, httpGet } from "./support/run-mesh.ts";
import { binomialBounds } from "./support/binomial.ts";

/** Python: N GETs of a URL with urllib (the proxy variables as it reads them), the versions counted into argv[1]. */
const PY_COUNT = `
import json, sys, urllib.request
url, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
counts, hosts = {}, set()
for _ in range(n):
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.loads(r.read().decode())
        counts[body["version"]] = counts.get(body["version"], 0) + 1
        hosts.add(body["host"])
json.dump({"counts": counts, "hosts": sorted(hosts)}, open(out, "w"))
`;

describe("trellis run clients through the proxy variables", () => {
  const mesh = new RunMesh();

  before(async () => {
    await mesh.start();
    await mesh.apply(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: default}
spec:
  host: shop
  subsets:
    - {name: v1, labels: {version: v1}}
    - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop]
  http:
    - route:
        - {destination: {host: shop, subset: v1}, weight: 90}
        - {destination: {host: shop, subset: v2}, weight: 10}
`);
    await mesh.httpService("shop", "v1", 8080);
    await mesh.httpService("shop", "v2", 8080);
    // Both subsets reachable through a client's sidecar before the count starts (their endpoints healthy).
    const { env } = await mesh.waitingClient("warmup");
    const outbound = Number(new URL(env.HTTP_PROXY!).port);
    const seen = new Set<string>();
    await until("both versions through the split", async () => {
      const r = await httpGet(outbound, "/", "shop:8080").catch(() => undefined);
      if (r?.status === 200) seen.add((JSON.parse(r.body) as { version: string }).version);
      return seen.size === 2 ? true : undefined;
    });
  });

  after(async () => {
    await mesh.stop();
  });

  const pyRun = async (service: string, url: string, n: number) => {
    const out = join(mesh.dataDir, `${service}.json`);
    const r = await mesh.run(["--service", service, "--", "python3", "-c", PY_COUNT, url, String(n), out]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(readFileSync(out, "utf8")) as { counts: Record<string, number>; hosts: string[] };
  };

  test("Python's urllib reaches a mesh service by name with no code change", async () => {
    const seen = await pyRun("py-caller", "http://shop:8080/from-python", 5);
    assert.equal((seen.counts.v1 ?? 0) + (seen.counts.v2 ?? 0), 5);
    assert.deepEqual(seen.hosts, ["shop:8080"]);
  });

  test("a 90/10 VirtualService split seen by 400 requests of a trellis run client, within binomial bounds", async () => {
    const n = 400;
    const seen = await pyRun("py-split", "http://shop.default:8080/split", n);
    const v2 = seen.counts.v2 ?? 0;
    assert.equal((seen.counts.v1 ?? 0) + v2, n, JSON.stringify(seen.counts));
    const [lo, hi] = binomialBounds(n, 0.1);
    assert.ok(v2 >= lo && v2 <= hi, `v2 got ${v2} of ${n}, expected within [${lo.toFixed(1)}, ${hi.toFixed(1)}]`);
  });
});
