// Outlier detection through a real sidecar: real upstreams on 127.0.0.1, a ManualClock for the interval sweeps and
// ejection times, a seeded random for the balancer. An upstream that answers 503 is ejected after consecutive_5xx,
// shows in /clusters and the stats, and comes back once the ejection time has passed; max_ejection_percent holds;
// the healthy panic threshold spreads traffic over every host when too few are healthy.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../src/api/clock.ts";
import { mulberry32 } from "../src/api/random.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";

interface Backend {
  upstream: Upstream;
  /** While true the upstream answers 503. */
  failing: boolean;
}

async function backend(name: string, failing: boolean): Promise<Backend> {
  const b: Backend = { upstream: undefined as unknown as Upstream, failing };
  b.upstream = await startEchoServer(name, (_req, res) => {
    res.writeHead(b.failing ? 503 : 200, { "x-upstream": name, "content-length": "0" });
    res.end();
  });
  return b;
}

async function withMesh(
  failing: boolean[],
  clusterExtra: Raw,
  run: (ctx: {
    backends: Backend[];
    proxy: RunningProxy;
    clock: ManualClock;
    /** Sends n requests one after another; the upstream names that answered, in order. */
    send(n: number): Promise<string[]>;
    admin(path: string): Promise<string>;
    /** Health flags of each backend, from /clusters. */
    healthFlags(): Promise<string[]>;
  }) => Promise<void>,
): Promise<void> {
  const backends = await Promise.all(failing.map((f, i) => backend(`b${i}`, f)));
  const clock = new ManualClock();
  const proxy = await startProxy(
    bootstrap(
      [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
      [
        staticCluster(
          "app",
          backends.map((b) => b.upstream.port),
          clusterExtra,
        ),
      ],
    ),
    clock,
    mulberry32(42),
  );
  const admin = async (path: string) => (await fetch(`http://127.0.0.1:${proxy.adminPort}${path}`)).text();
  const send = async (n: number) => {
    const names: string[] = [];
    for (let i = 0; i < n; i++) names.push(String((await request(proxy.port())).headers["x-upstream"]));
    return names;
  };
  const healthFlags = async () => {
    const text = await admin("/clusters");
    return backends.map((b) => {
      const m = new RegExp(`^app::127\\.0\\.0\\.1:${b.upstream.port}::health_flags::(.*)$`, "m").exec(text);
      return m?.[1] ?? "missing";
    });
  };
  try {
    await run({ backends, proxy, clock, send, admin, healthFlags });
  } finally {
    await proxy.close();
    await Promise.all(backends.map((b) => b.upstream.close()));
  }
}

function count(names: string[], name: string): number {
  return names.filter((n) => n === name).length;
}

describe("outlier detection through a real sidecar", () => {
  test("a 503ing upstream is ejected after consecutive_5xx and returns after base_ejection_time", async () => {
    const outlier = {
      outlier_detection: { consecutive_5xx: 3, interval: "1s", base_ejection_time: "30s", max_ejection_percent: 50 },
    };
    await withMesh([true, false, false], outlier, async ({ backends, clock, send, admin, healthFlags }) => {
      const bad = backends[0]!;
      // Round robin: the bad upstream sees every third request; its third 503 ejects it.
      const first = await send(9);
      assert.equal(count(first, "b0"), 3);
      assert.equal(bad.upstream.received.length, 3);
      assert.deepEqual(await healthFlags(), ["/failed_outlier_check", "healthy", "healthy"]);

      // Ejected: every request goes to the others.
      const during = await send(20);
      assert.equal(count(during, "b0"), 0);
      assert.equal(bad.upstream.received.length, 3);

      const prom = await admin("/stats/prometheus");
      assert.match(prom, /envoy_cluster_outlier_detection_ejections_active\{envoy_cluster_name="app"\} 1\n/);
      assert.match(prom, /envoy_cluster_outlier_detection_ejections_enforced_consecutive_5xx\{[^}]*\} 1\n/);
      assert.match(prom, /envoy_cluster_outlier_detection_ejections_detected_consecutive_5xx\{[^}]*\} 1\n/);
      assert.match(prom, /envoy_cluster_outlier_detection_ejections_enforced_total\{[^}]*\} 1\n/);
      const stats = await admin("/stats");
      assert.match(stats, /^cluster\.app\.outlier_detection\.ejections_active: 1$/m);

      // The upstream recovers; 29 s later it is still out, at 30 s the sweep returns it.
      bad.failing = false;
      clock.advance(29_000);
      assert.equal(count(await send(6), "b0"), 0);
      clock.advance(1_000);
      assert.deepEqual(await healthFlags(), ["healthy", "healthy", "healthy"]);
      assert.equal(count(await send(9), "b0"), 3);
      assert.match(await admin("/stats"), /^cluster\.app\.outlier_detection\.ejections_active: 0$/m);
    });
  });

  test("success rates appear in /clusters once an interval has the request volume", async () => {
    const outlier = {
      outlier_detection: {
        consecutive_5xx: 1000,
        interval: "1s",
        success_rate_request_volume: 5,
        failure_percentage_request_volume: 5,
        success_rate_minimum_hosts: 2,
        failure_percentage_minimum_hosts: 2,
      },
    };
    await withMesh([false, false], outlier, async ({ backends, clock, send, admin }) => {
      const port = backends[0]!.upstream.port;
      const rate = async () =>
        new RegExp(`^app::127\\.0\\.0\\.1:${port}::success_rate::(.*)$`, "m").exec(await admin("/clusters"))?.[1];
      assert.equal(await rate(), "-1.0");
      await send(10); // 5 each
      backends[0]!.failing = true;
      await send(10); // 5 more each: b0 now 5 of 10 failed
      clock.advance(1_000);
      assert.equal(await rate(), "50");
      const json = JSON.parse(await admin("/clusters?format=json")) as {
        cluster_statuses: { host_statuses: { success_rate?: { value: number } }[] }[];
      };
      assert.deepEqual(
        json.cluster_statuses[0]!.host_statuses.map((h) => h.success_rate?.value),
        [50, 100],
      );
    });
  });

  test("max_ejection_percent: of four upstreams failing three, only one is ejected", async () => {
    const outlier = {
      outlier_detection: { consecutive_5xx: 2, interval: "1s", max_ejection_percent: 25 },
    };
    await withMesh([true, true, true, false], outlier, async ({ send, admin, healthFlags }) => {
      const answered = await send(40);
      const flags = await healthFlags();
      assert.equal(flags.filter((f) => f === "/failed_outlier_check").length, 1, flags.join(" "));
      assert.equal(flags[3], "healthy");
      // The two failing upstreams that could not be ejected keep getting their share.
      assert.ok(answered.slice(-12).filter((n) => n !== "b3").length >= 6);
      const prom = await admin("/stats/prometheus");
      assert.match(prom, /envoy_cluster_outlier_detection_ejections_active\{[^}]*\} 1\n/);
      const overflow = /envoy_cluster_outlier_detection_ejections_overflow\{[^}]*\} (\d+)\n/.exec(prom);
      assert.ok(Number(overflow?.[1]) > 0, "refused ejections are counted as overflow");
    });
  });

  test("healthy panic threshold: with too few healthy hosts traffic spreads over all; 0 disables panic", async () => {
    const outlier = { consecutive_5xx: 1, interval: "1s", max_ejection_percent: 100 };
    // Default threshold 50 %: once two of three are ejected (33 % healthy), the level is in panic.
    await withMesh([true, true, false], { outlier_detection: outlier }, async ({ send, healthFlags }) => {
      await send(6);
      assert.deepEqual(await healthFlags(), ["/failed_outlier_check", "/failed_outlier_check", "healthy"]);
      const names = await send(30);
      for (const n of ["b0", "b1", "b2"]) assert.equal(count(names, n), 10, `${n} in ${names.join(" ")}`);
    });
    // Panic disabled: the one healthy host takes everything.
    const noPanic = { outlier_detection: outlier, common_lb_config: { healthy_panic_threshold: { value: 0 } } };
    await withMesh([true, true, false], noPanic, async ({ send, healthFlags }) => {
      await send(6);
      assert.deepEqual(await healthFlags(), ["/failed_outlier_check", "/failed_outlier_check", "healthy"]);
      assert.equal(count(await send(30), "b2"), 30);
    });
  });
});
