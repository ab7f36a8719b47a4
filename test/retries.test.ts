// Retries end to end through a real sidecar and real upstreams: they hide failing endpoints, stop at the policy's
// limits, never repeat a POST the policy did not opt in to, replay request bodies, honour per-try and route
// timeouts on an injected clock, and say what happened (URX, attempt counts in the access log, stats).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../src/api/clock.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { closedPort, startEchoServer, type Upstream } from "./support/upstreams.ts";
import { request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";
import { runBounded, waitFor } from "./support/wait.ts";

/** An upstream answering 503 to every request (or to those `fails` picks) and 200 otherwise. */
async function failingUpstream(name: string, fails: (n: number) => boolean = () => true): Promise<Upstream> {
  let n = 0;
  return startEchoServer(name, (_req, res, body) => {
    const status = fails(n++) ? 503 : 200;
    const out = JSON.stringify({ name, body: body.toString("utf8") });
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
    res.end(out);
  });
}

function retryRoute(retryPolicy: Raw, extra: Raw = {}): Raw[] {
  return [{ name: "r", match: { prefix: "/" }, route: { cluster: "app", retry_policy: retryPolicy, ...extra } }];
}

async function statValue(proxy: RunningProxy, name: string): Promise<number> {
  const text = (await request(proxy.adminPort, { path: "/stats" })).body;
  const line = text.split("\n").find((l) => l.startsWith(name + ": "));
  return line === undefined ? 0 : Number(line.slice(name.length + 2));
}

const FAST_BACKOFF = { base_interval: "0.001s", max_interval: "0.002s" };

describe("retries hide failing upstreams", () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
  after(() => agent.destroy());

  test("one endpoint of two always fails: with previous_hosts and 3 attempts >= 99.9 % of 1000 requests succeed", async () => {
    const bad = await failingUpstream("bad");
    const good = await startEchoServer("good");
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains(
              retryRoute({
                retry_on: "5xx",
                num_retries: 2,
                retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts" }],
                host_selection_retry_max_attempts: 5,
                retry_back_off: FAST_BACKOFF,
              }),
            ),
          ),
        ],
        [staticCluster("app", [bad.port, good.port])],
      ),
    );
    try {
      const statuses = await runBounded(1000, 3, async () => (await request(proxy.port(), { agent })).status);
      const ok = statuses.filter((s) => s === 200).length;
      assert.ok(ok >= 999, `${ok} of 1000 succeeded`);
      assert.ok(bad.received.length >= 400, `the bad endpoint was tried (${bad.received.length})`);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_retry"), bad.received.length);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_retry_success"), bad.received.length);
    } finally {
      await proxy.close();
      await bad.close();
      await good.close();
    }
  });

  test("a single endpoint failing every other request: all 1000 succeed; without a policy half fail", async () => {
    const flaky = await failingUpstream("flaky", (n) => n % 2 === 0);
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("in", allDomains(retryRoute({ retry_on: "5xx", num_retries: 2, retry_back_off: FAST_BACKOFF }))),
          httpListener("plain", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }])),
        ],
        [staticCluster("app", [flaky.port])],
      ),
    );
    try {
      const statuses = await runBounded(1000, 1, async () => (await request(proxy.port("in"), { agent })).status);
      assert.equal(statuses.filter((s) => s === 200).length, 1000);
      const plain = await runBounded(100, 1, async () => (await request(proxy.port("plain"), { agent })).status);
      assert.equal(plain.filter((s) => s === 503).length, 50);
    } finally {
      await proxy.close();
      await flaky.close();
    }
  });
});

describe("retry limits and what they say", () => {
  let upstream: Upstream;
  let dir: string;
  before(async () => {
    upstream = await failingUpstream("down");
    dir = mkdtempSync(join(tmpdir(), "trellis-retry-"));
  });
  after(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("num_retries is exact; the relayed 503 carries URX; the access log counts the attempts", async () => {
    const log = join(dir, "access.log");
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains(retryRoute({ retry_on: "gateway-error", num_retries: 3, retry_back_off: FAST_BACKOFF })),
          ),
        ].map((l) => withAccessLog(l, log)),
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      const before = upstream.received.length;
      const r = await request(proxy.port());
      assert.equal(r.status, 503);
      assert.equal(r.headers["x-trellis-response-flags"], "URX");
      assert.equal(upstream.received.length - before, 4);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_retry"), 3);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_retry_limit_exceeded"), 1);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_503"), 4);
      await proxy.close();
      assert.equal(readFileSync(log, "utf8").trim(), "503 URX 4");
    } finally {
      await proxy.close();
    }
  });

  test("a status outside retry_on is relayed at once", async () => {
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains(retryRoute({ retry_on: "retriable-status-codes", retriable_status_codes: [409] })),
          ),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      const before = upstream.received.length;
      assert.equal((await request(proxy.port())).status, 503);
      assert.equal(upstream.received.length - before, 1);
    } finally {
      await proxy.close();
    }
  });
});

function withAccessLog(listener: Raw, path: string): Raw {
  const chains = listener.filter_chains as { filters: { typed_config: Raw }[] }[];
  chains[0]!.filters[0]!.typed_config.access_log = [
    {
      name: "envoy.access_loggers.file",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
        path,
        log_format: {
          text_format_source: { inline_string: "%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_REQUEST_ATTEMPT_COUNT%\n" },
        },
      },
    },
  ];
  return listener;
}

describe("a POST is retried only where the policy says so", () => {
  /** Sends one request through a proxy with `policy` to a fresh upstream that fails its first request only. */
  async function attemptsFor(policy: Raw, options: Parameters<typeof request>[1]): Promise<[number, number, string]> {
    const upstream = await failingUpstream("once", (n) => n === 0);
    const proxy = await startProxy(
      bootstrap([httpListener("in", allDomains(retryRoute(policy)))], [staticCluster("app", [upstream.port])]),
    );
    try {
      const r = await request(proxy.port(), options);
      return [r.status, upstream.received.length, r.body];
    } finally {
      await proxy.close();
      await upstream.close();
    }
  }

  test("retry_on 5xx alone: a POST's 503 is relayed, not repeated", async () => {
    const [status, attempts] = await attemptsFor(
      { retry_on: "5xx", num_retries: 2, retry_back_off: FAST_BACKOFF },
      { method: "POST", body: "order=1" },
    );
    assert.deepEqual([status, attempts], [503, 1]);
  });

  test("a policy whose retriable_request_headers name :method POST opts in: the body is replayed", async () => {
    const [status, attempts, body] = await attemptsFor(
      {
        retry_on: "5xx",
        num_retries: 2,
        retry_back_off: FAST_BACKOFF,
        retriable_request_headers: [{ name: ":method", string_match: { exact: "POST" } }],
      },
      { method: "POST", body: "order=2" },
    );
    assert.deepEqual([status, attempts], [200, 2]);
    assert.equal(JSON.parse(body).body, "order=2");
  });

  test("a chunked request body is replayed whole to the retry", async () => {
    const [status, attempts, body] = await attemptsFor(
      {
        retry_on: "5xx",
        retry_back_off: FAST_BACKOFF,
        retriable_request_headers: [{ name: ":method", string_match: { exact: "PUT" } }],
      },
      { method: "PUT", body: "x".repeat(50_000), chunked: true },
    );
    assert.deepEqual([status, attempts], [200, 2]);
    assert.equal(JSON.parse(body).body.length, 50_000);
  });

  test("a body past per_request_buffer_limit_bytes cannot be replayed: no retry", async () => {
    const upstream = await failingUpstream("once", (n) => n === 0);
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              {
                match: { prefix: "/" },
                per_request_buffer_limit_bytes: 1000,
                route: { cluster: "app", retry_policy: { retry_on: "5xx", retry_back_off: FAST_BACKOFF } },
              },
            ]),
          ),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      const r = await request(proxy.port(), { method: "PUT", body: "y".repeat(5000) });
      assert.equal(r.status, 503);
      assert.equal(upstream.received.length, 1);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });

  test("a connect failure is retried for a POST too: the upstream never saw it", async () => {
    const good = await startEchoServer("good");
    const dead = await closedPort();
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains(
              retryRoute({
                retry_on: "connect-failure",
                num_retries: 3,
                retry_back_off: FAST_BACKOFF,
                retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts" }],
                host_selection_retry_max_attempts: 3,
              }),
            ),
          ),
        ],
        [{ ...staticCluster("app", [dead, good.port]), lb_policy: "ROUND_ROBIN" }],
      ),
    );
    try {
      for (let i = 0; i < 4; i++) {
        const r = await request(proxy.port(), { method: "POST", body: `n=${i}` });
        assert.equal(r.status, 200);
      }
      assert.equal(good.received.length, 4);
    } finally {
      await proxy.close();
      await good.close();
    }
  });
});

describe("failures are retried only under a retry_on condition that names them", () => {
  test("retry_on retriable-status-codes alone: a connect failure is not retried (it is no status)", async () => {
    const dead = await closedPort();
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains(
              retryRoute({
                retry_on: "retriable-status-codes",
                retriable_status_codes: [503],
                num_retries: 3,
                retry_back_off: FAST_BACKOFF,
              }),
            ),
          ),
        ],
        [staticCluster("app", [dead])],
      ),
    );
    try {
      const r = await request(proxy.port());
      assert.equal(r.status, 503);
      assert.equal(r.headers["x-trellis-response-flags"], "UF");
      assert.equal(await statValue(proxy, "cluster.app.upstream_cx_connect_fail"), 1);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_retry"), 0);
    } finally {
      await proxy.close();
    }
  });
});

describe("per-try and route timeouts on an injected clock", () => {
  test("a per-try timeout retries on another attempt; the route timeout bounds them all", async () => {
    const clock = new ManualClock();
    const hold: http.ServerResponse[] = [];
    let answerSecond = true;
    const upstream = await startEchoServer("slow", (_req, res) => {
      if (hold.length === 0 || !answerSecond) {
        hold.push(res);
        return;
      }
      res.writeHead(200, { "content-length": "2" });
      res.end("ok");
    });
    const policy = (numRetries: number): Raw => ({
      retry_on: "5xx",
      num_retries: numRetries,
      per_try_timeout: "1s",
      retry_back_off: { base_interval: "0.1s" },
    });
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              {
                name: "few",
                match: { prefix: "/few" },
                route: { cluster: "app", timeout: "10s", retry_policy: policy(1) },
              },
              {
                name: "r",
                match: { prefix: "/" },
                route: { cluster: "app", timeout: "2.5s", retry_policy: policy(3) },
              },
            ]),
          ),
        ],
        [staticCluster("app", [upstream.port])],
      ),
      clock,
      // Back-off is jittered in [0, ceiling): a generator that always says 0 retries at once, keeping time exact.
      () => 0,
    );
    try {
      const first = request(proxy.port());
      await waitFor(() => upstream.received.length === 1);
      clock.advance(1000); // per-try timeout: the attempt is abandoned and retried
      const r = await first;
      assert.equal(r.status, 200);
      assert.equal(upstream.received.length, 2);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_per_try_timeout"), 1);

      answerSecond = false;
      const second = request(proxy.port(), { path: "/few" });
      await waitFor(() => upstream.received.length === 3);
      clock.advance(1000);
      await waitFor(() => upstream.received.length === 4);
      clock.advance(1000);
      const r2 = await second;
      assert.equal(r2.status, 504);
      assert.equal(r2.headers["x-trellis-response-flags"], "URX,UT");
      assert.match(String(r2.headers["x-trellis-details"]), /upstream_per_try_timeout:few/);

      const third = request(proxy.port());
      await waitFor(() => upstream.received.length === 5);
      clock.advance(1000);
      await waitFor(() => upstream.received.length === 6);
      clock.advance(1000);
      await waitFor(() => upstream.received.length === 7);
      // The route timeout (2.5 s from the start) ends it whatever retries are left.
      clock.advance(500);
      const r3 = await third;
      assert.equal(r3.status, 504);
      assert.equal(r3.headers["x-trellis-response-flags"], "UT");
      assert.match(String(r3.headers["x-trellis-details"]), /upstream_response_timeout:r/);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_timeout"), 1);
    } finally {
      for (const res of hold) res.destroy();
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("the per-try timeout ends with the response head", () => {
  test("a head within per_try_timeout, its body later: the response completes, nothing is retried", async () => {
    const clock = new ManualClock();
    const started: http.ServerResponse[] = [];
    const upstream = await startEchoServer("streams", (_req, res) => {
      res.writeHead(200, { "content-length": "4" });
      res.write("he");
      started.push(res);
    });
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains(
              retryRoute({ retry_on: "5xx,reset", num_retries: 2, per_try_timeout: "1s" }, { timeout: "30s" }),
            ),
          ),
        ],
        [staticCluster("app", [upstream.port])],
      ),
      clock,
      () => 0,
    );
    try {
      // The client sees the head (so the proxy has relayed it) before time moves.
      const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
        http.get({ port: proxy.port(), host: "127.0.0.1", path: "/", agent: false }, resolve).on("error", reject),
      );
      assert.equal(res.statusCode, 200);
      clock.advance(5000); // well past the per-try timeout, inside the route's
      started[0]!.end("ll");
      let body = "";
      for await (const chunk of res) body += String(chunk);
      assert.equal(body, "hell");
      assert.equal(upstream.received.length, 1);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_per_try_timeout"), 0);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_retry"), 0);
    } finally {
      for (const res of started) res.destroy();
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("retries never exceed the retry budget", () => {
  test("10 failing requests at once: exactly the budget's retries go out, the rest are relayed and counted", async () => {
    const clock = new ManualClock();
    const held: http.ServerResponse[] = [];
    const upstream = await startEchoServer("held", (_req, res) => void held.push(res));
    const proxy = await startProxy(
      bootstrap(
        [httpListener("in", allDomains(retryRoute({ retry_on: "5xx", num_retries: 5 }, { timeout: "0s" })))],
        [
          staticCluster("app", [upstream.port], {
            circuit_breakers: {
              thresholds: [{ retry_budget: { budget_percent: { value: 1 }, min_retry_concurrency: 3 } }],
            },
          }),
        ],
      ),
      clock,
      () => 0,
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    try {
      const replies = Array.from({ length: 10 }, (_, i) => request(proxy.port(), { path: `/${i}`, agent }));
      await waitFor(() => held.length === 10);
      // 1 % of 10 requests in flight is 0: min_retry_concurrency (3) is the budget.
      for (const res of held.splice(0)) {
        res.writeHead(503, { "content-length": "0" });
        res.end();
      }
      const stats = proxy.proxy.cluster("app")!.stats;
      await waitFor(() => stats.upstreamRqRetry.value + stats.upstreamRqRetryOverflow.value === 10);
      clock.advance(0); // the back-off (0 with this generator) ends: the retries go out
      await waitFor(() => upstream.received.length === 13);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_retry"), 3);
      assert.equal(await statValue(proxy, "cluster.app.upstream_rq_retry_overflow"), 7);
      // The three retries are still held by the upstream (in flight): no fourth may start meanwhile.
      assert.equal(held.length, 3);
      for (const res of held.splice(0)) {
        res.writeHead(200, { "content-length": "2" });
        res.end("ok");
      }
      const statuses = (await Promise.all(replies)).map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 200, 503, 503, 503, 503, 503, 503, 503]);
    } finally {
      agent.destroy();
      for (const res of held) res.destroy();
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("retry priority (previous_priorities) and envoy-ratelimited", () => {
  /** A cluster whose priority 0 is `primary` and priority 1 is `backup` (backup takes no load while 0 is healthy). */
  function prioritized(primary: number, backup: number): Raw {
    return {
      name: "app",
      type: "STATIC",
      connect_timeout: "1s",
      load_assignment: {
        cluster_name: "app",
        endpoints: [
          {
            priority: 0,
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: primary } } } },
            ],
          },
          {
            priority: 1,
            lb_endpoints: [{ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: backup } } } }],
          },
        ],
      },
    };
  }

  const policy = (extra: Raw = {}): Raw => ({
    retry_on: "5xx",
    num_retries: 1,
    retry_back_off: FAST_BACKOFF,
    ...extra,
  });
  const PREVIOUS_PRIORITIES = (updateFrequency: number): Raw => ({
    retry_priority: {
      name: "envoy.retry_priorities.previous_priorities",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
        update_frequency: updateFrequency,
      },
    },
  });

  test("a failing priority 0: the retry goes to priority 1 only with previous_priorities", async () => {
    const primary = await failingUpstream("primary");
    const backup = await startEchoServer("backup");
    const run = async (retryPolicy: Raw): Promise<{ status: number; primary: number; backup: number }> => {
      const before = { primary: primary.received.length, backup: backup.received.length };
      const proxy = await startProxy(
        bootstrap([httpListener("in", allDomains(retryRoute(retryPolicy)))], [prioritized(primary.port, backup.port)]),
      );
      try {
        const r = await request(proxy.port());
        return {
          status: r.status,
          primary: primary.received.length - before.primary,
          backup: backup.received.length - before.backup,
        };
      } finally {
        await proxy.close();
      }
    };
    try {
      // Without a retry priority the retry follows the cluster's load: priority 0 again.
      assert.deepEqual(await run(policy()), { status: 503, primary: 2, backup: 0 });
      // update_frequency 1: after one attempt, its priority is left out.
      assert.deepEqual(await run(policy(PREVIOUS_PRIORITIES(1))), { status: 200, primary: 1, backup: 1 });
      // update_frequency 2 (Istio's retryRemoteLocalities): the first retry still follows the load; the second
      // (after two attempts) leaves priority 0 out.
      assert.deepEqual(await run({ ...policy(PREVIOUS_PRIORITIES(2)), num_retries: 2 }), {
        status: 200,
        primary: 2,
        backup: 1,
      });
    } finally {
      await primary.close();
      await backup.close();
    }
  });

  test("envoy-ratelimited retries a response that says it was rate limited, and only that", async () => {
    let n = 0;
    const upstream = await startEchoServer("limited", (_req, res) => {
      // First a rate-limited 429, then a plain 429, then 200s.
      const i = n++;
      if (i === 0) res.writeHead(429, { "x-envoy-ratelimited": "true", "content-length": 0 }).end();
      else if (i === 1) res.writeHead(429, { "content-length": 0 }).end();
      else res.writeHead(200, { "content-length": 2 }).end("ok");
    });
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains(retryRoute({ retry_on: "envoy-ratelimited", num_retries: 3, retry_back_off: FAST_BACKOFF })),
          ),
        ],
        [staticCluster("app", [upstream.port])],
      ),
    );
    try {
      // Attempt 1: 429 with x-envoy-ratelimited → retried; attempt 2: a plain 429 is not retried: returned.
      const r = await request(proxy.port());
      assert.equal(r.status, 429);
      assert.equal(n, 2);
      assert.equal((await request(proxy.port())).status, 200);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});
