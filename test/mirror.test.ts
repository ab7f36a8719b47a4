// Request mirroring through a real sidecar: the shadow cluster receives copies (authority with -shadow, the body
// too), the primary's answers are untouched and never wait for the shadow, and runtime_fraction is honest.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mulberry32 } from "../src/api/random.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "./support/envoy-config.ts";
import { runBounded, waitFor } from "./support/wait.ts";
import { shadowAuthority } from "../src/proxy/http/mirror.ts";
import { binomialBounds } from "./support/binomial.ts";

test("shadow authority: -shadow goes before the port", () => {
  assert.equal(shadowAuthority("reviews:9080"), "reviews-shadow:9080");
  assert.equal(shadowAuthority("reviews"), "reviews-shadow");
  assert.equal(shadowAuthority("[::1]:80"), "[::1]-shadow:80");
  assert.equal(shadowAuthority("[::1]"), "[::1]-shadow");
});

describe("request mirroring", () => {
  let primary: Upstream;
  let shadow: Upstream;
  let stuck: Upstream;
  const held: http.ServerResponse[] = [];
  let proxy: RunningProxy;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  before(async () => {
    primary = await startEchoServer("primary");
    shadow = await startEchoServer("shadow");
    // A shadow that never answers: the primary must not notice.
    stuck = await startEchoServer("stuck", (_req, res) => void held.push(res));
    proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              {
                match: { prefix: "/all" },
                route: { cluster: "primary", request_mirror_policies: [{ cluster: "shadow" }] },
              },
              {
                match: { prefix: "/stuck" },
                route: { cluster: "primary", request_mirror_policies: [{ cluster: "stuck" }] },
              },
              {
                match: { prefix: "/some" },
                route: {
                  cluster: "primary",
                  request_mirror_policies: [
                    {
                      cluster: "shadow",
                      runtime_fraction: { default_value: { numerator: 30, denominator: "HUNDRED" } },
                    },
                  ],
                },
              },
            ]),
          ),
        ],
        [
          staticCluster("primary", [primary.port]),
          staticCluster("shadow", [shadow.port]),
          staticCluster("stuck", [stuck.port]),
        ],
      ),
      undefined,
      mulberry32(42),
    );
  });
  after(async () => {
    agent.destroy();
    for (const res of held) res.destroy();
    await proxy.close();
    await primary.close();
    await shadow.close();
    await stuck.close();
  });

  test("the shadow receives a copy with -shadow on the authority, body included; the primary's answer is its own", async () => {
    const before = shadow.received.length;
    const r = await request(proxy.port(), {
      method: "POST",
      path: "/all/orders",
      headers: { host: "orders:8080", "x-trace": "t1" },
      body: "item=42",
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-upstream"], "primary");
    assert.equal(r.json().body, "item=42");
    await waitFor(() => shadow.received.length === before + 1);
    const copy = shadow.received.at(-1)!;
    assert.equal(copy.method, "POST");
    assert.equal(copy.url, "/all/orders");
    assert.equal(copy.headers.host, "orders-shadow:8080");
    assert.equal(copy.headers["x-trace"], "t1");
    assert.equal(copy.body, "item=42");
  });

  test("a shadow that never answers does not slow or change the primary", async () => {
    for (let i = 0; i < 20; i++) {
      const r = await request(proxy.port(), { path: `/stuck/${i}`, agent });
      assert.equal(r.status, 200);
      assert.equal(r.headers["x-upstream"], "primary");
    }
    await waitFor(() => held.length === 20);
  });

  test("runtime_fraction 30 %: the mirrored share of 1000 requests is inside 99.9 % binomial bounds", async () => {
    const before = shadow.received.length;
    const sent = proxy.proxy.cluster("shadow")!.stats.upstreamRqTotal;
    const sentBefore = sent.value;
    await runBounded(1000, 4, async (i) => {
      const r = await request(proxy.port(), { path: `/some/${i}`, agent });
      assert.equal(r.status, 200);
    });
    // Every copy the proxy sent arrives (the proxy counts them as it sends them, the shadow as they arrive).
    const mirrored = sent.value - sentBefore;
    await waitFor(() => shadow.received.length - before === mirrored);
    const [lo, hi] = binomialBounds(1000, 0.3);
    assert.ok(mirrored >= lo && mirrored <= hi, `${mirrored} mirrored, expected ${lo.toFixed(0)}-${hi.toFixed(0)}`);
  });
});
