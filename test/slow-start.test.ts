// Slow start through a real sidecar: two upstreams on 127.0.0.1 behind a static ROUND_ROBIN cluster with
// slow_start_config and an HTTP health check. Upstream b fails its checks until the hosts present at start are out
// of their own slow start; when b passes, its share of requests starts at the floor and grows with the
// (ManualClock) time, then settles to an even split. Each round of checks is awaited through the checker's own
// notification, never a sleep.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../src/api/clock.ts";
import { mulberry32 } from "../src/api/random.ts";
import type { HealthChecker } from "../src/proxy/upstream/health/checker.ts";
import { binomialBounds } from "./support/binomial.ts";
import { request } from "./support/clients.ts";
import { healthCheckRound } from "./support/health-rounds.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";

const WINDOW_S = 60;
const INTERVAL_MS = 30_000;

const round = (clock: ManualClock, checker: HealthChecker, n: number, ms = INTERVAL_MS): Promise<void> =>
  healthCheckRound(clock, checker, n, ms);

/** How many of `n` requests upstream b answered. */
async function answeredByB(proxy: RunningProxy, n: number): Promise<number> {
  let b = 0;
  for (let i = 0; i < n; i++) if ((await request(proxy.port())).body === "b") b++;
  return b;
}

function assertWithin(count: number, n: number, p: number, what: string): void {
  const [low, high] = binomialBounds(n, p);
  assert.ok(count >= low && count <= high, `${what}: ${count} of ${n}, expected ${low.toFixed(1)}-${high.toFixed(1)}`);
}

describe("slow start through a sidecar", () => {
  let bPasses = false;
  const upstream = (name: string): Promise<Upstream> =>
    startEchoServer(name, (req, res) => {
      if (req.url === "/healthz") {
        res.writeHead(name === "a" || bPasses ? 200 : 503, { "content-length": 0 }).end();
        return;
      }
      res.writeHead(200, { "content-length": name.length }).end(name);
    });
  let a: Upstream;
  let b: Upstream;
  let proxy: RunningProxy;
  let checker: HealthChecker;
  const clock = new ManualClock();
  before(async () => {
    a = await upstream("a");
    b = await upstream("b");
    const cluster = staticCluster("app", [a.port, b.port], {
      round_robin_lb_config: { slow_start_config: { slow_start_window: `${WINDOW_S}s` } },
      health_checks: [
        {
          timeout: "1s",
          interval: `${INTERVAL_MS / 1000}s`,
          no_traffic_interval: `${INTERVAL_MS / 1000}s`,
          unhealthy_threshold: 1,
          healthy_threshold: 1,
          http_health_check: { path: "/healthz" },
        },
      ],
    });
    proxy = await startProxy(
      bootstrap([httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))], [cluster]),
      clock,
      mulberry32(3),
    );
    checker = proxy.proxy.cluster("app")!.healthChecker!;
  });
  after(async () => {
    await proxy.close();
    await a.close();
    await b.close();
  });

  test("a host that passes its health check late ramps up from 10 % of its weight to an even share", async () => {
    // t = 0: a passed its first check (its slow start began), b failed. Only a takes traffic.
    assert.equal(await answeredByB(proxy, 4), 0);
    // t = 60 s: a is out of slow start; b passes now, and starts at the floor: 0.1 / (1 + 0.1).
    await round(clock, checker, 2);
    bPasses = true;
    await round(clock, checker, 2);
    const n = 220;
    assertWithin(await answeredByB(proxy, n), n, 0.1 / 1.1, "b at the start of its slow start");
    // t = 90 s: b is half way: 0.5 / 1.5.
    await round(clock, checker, 2);
    assertWithin(await answeredByB(proxy, n), n, 0.5 / 1.5, "b half way");
    // t = 120 s: out of slow start, plain round robin: exactly every other request.
    await round(clock, checker, 2);
    assert.equal(await answeredByB(proxy, 100), 50);
  });
});
