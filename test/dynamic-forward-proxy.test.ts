// The dynamic forward proxy (envoy.filters.http.dynamic_forward_proxy + envoy.clusters.dynamic_forward_proxy), as
// Envoy's docs write the bootstrap: the upstream is the request's :authority, resolved through a DNS cache. Real
// sockets: an "external" host is a name the injected resolver maps to 127.0.0.1, where the test's server listens.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { ConfigError } from "../src/api/errors.ts";
import { Proxy } from "../src/proxy/server.ts";
import type { DnsLookup } from "../src/proxy/upstream/dns.ts";
import { renderEnvoyStatsText } from "../src/telemetry/envoy-stats-text.ts";
import { request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, type Raw } from "./support/envoy-config.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";

const DFP_FILTER = "type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig";
const DFP_CLUSTER = "type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig";
const ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

function dfpBootstrap(cache: Raw = {}): Raw {
  const dnsCacheConfig = { name: "dynamic_forward_proxy_cache_config", dns_lookup_family: "V4_ONLY", ...cache };
  return bootstrap(
    [
      httpListener(
        "outbound",
        allDomains([{ match: { prefix: "/" }, route: { cluster: "dynamic_forward_proxy_cluster" } }]),
        {
          http_filters: [
            {
              name: "envoy.filters.http.dynamic_forward_proxy",
              typed_config: { "@type": DFP_FILTER, dns_cache_config: dnsCacheConfig },
            },
            { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } },
          ],
        },
      ),
    ],
    [
      {
        name: "dynamic_forward_proxy_cluster",
        connect_timeout: "1s",
        lb_policy: "CLUSTER_PROVIDED",
        cluster_type: {
          name: "envoy.clusters.dynamic_forward_proxy",
          typed_config: { "@type": DFP_CLUSTER, dns_cache_config: dnsCacheConfig },
        },
      },
    ],
  );
}

/** A resolver that knows a few names and counts its lookups. */
function resolver(names: Record<string, string>): { lookup: DnsLookup; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    lookup: async (host) => {
      asked.push(host);
      const address = names[host];
      if (address === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
      return [address];
    },
  };
}

async function startDfp(cache: Raw, names: Record<string, string>) {
  const dns = resolver(names);
  const proxy = new Proxy(parseBootstrap(JSON.stringify(dfpBootstrap(cache)), "dfp.yaml"), {
    log: () => {},
    dnsLookup: dns.lookup,
  });
  await proxy.start();
  const port = Object.values(proxy.listenerAddresses())[0]!.port;
  const stat = (name: string): number => {
    const m = new RegExp(`^${name.replace(/\./g, "\\.")}: (\\d+)$`, "m").exec(renderEnvoyStatsText(proxy.stats));
    return m === null ? NaN : Number(m[1]);
  };
  return { proxy, port, dns, stat };
}

describe("dynamic forward proxy from a bootstrap", () => {
  let upstream: Upstream;
  before(async () => {
    upstream = await startEchoServer("external");
  });
  after(() => upstream.close());

  test("a request for an external host reaches it; the host is looked up once and its connection reused", async () => {
    const { proxy, port, dns, stat } = await startDfp({}, { "api.example.com": "127.0.0.1" });
    try {
      for (let i = 0; i < 3; i++) {
        const reply = await request(port, {
          path: `/v1/items/${i}`,
          headers: { host: `api.example.com:${upstream.port}` },
        });
        assert.equal(reply.status, 200, reply.body);
        assert.equal(reply.json().url, `/v1/items/${i}`);
        assert.equal(
          reply.json<{ headers: Record<string, string> }>().headers.host,
          `api.example.com:${upstream.port}`,
        );
      }
      assert.deepEqual(dns.asked, ["api.example.com"]);
      const cache = "dns_cache.dynamic_forward_proxy_cache_config";
      assert.equal(stat(`${cache}.dns_query_attempt`), 1);
      assert.equal(stat(`${cache}.dns_query_success`), 1);
      assert.equal(stat(`${cache}.host_added`), 1);
      assert.equal(stat(`${cache}.num_hosts`), 1);
      // Connections are pooled per host: three requests, one upstream connection.
      assert.equal(stat("cluster.dynamic_forward_proxy_cluster.upstream_cx_total"), 1);
      assert.equal(stat("cluster.dynamic_forward_proxy_cluster.upstream_rq_total"), 3);
      // The admin pages show the cluster like any other.
      for (const path of ["/clusters", "/config_dump", "/stats?filter=dns_cache"]) {
        const page = await fetch(`http://127.0.0.1:${proxy.adminPort}${path}`);
        assert.equal(page.status, 200, path);
        assert.match(await page.text(), /dynamic_forward_proxy_cache_config|dynamic_forward_proxy_cluster/, path);
      }
    } finally {
      await proxy.shutdown(0);
    }
  });

  test("an unresolvable host gets 503 DF dns_resolution_failure, and the proxy serves on", async () => {
    const { proxy, port, stat } = await startDfp({}, { "api.example.com": "127.0.0.1" });
    try {
      const bad = await request(port, { headers: { host: "nowhere.invalid" } });
      assert.equal(bad.status, 503);
      assert.equal(bad.headers["x-trellis-response-flags"], "DF");
      assert.equal(bad.headers["x-trellis-details"], "dns_resolution_failure:nowhere.invalid");
      assert.equal(stat("dns_cache.dynamic_forward_proxy_cache_config.dns_query_failure"), 1);
      const good = await request(port, { headers: { host: `api.example.com:${upstream.port}` } });
      assert.equal(good.status, 200);
    } finally {
      await proxy.shutdown(0);
    }
  });

  test("a lookup that never answers fails at dns_query_timeout", async () => {
    const proxy = new Proxy(parseBootstrap(JSON.stringify(dfpBootstrap({ dns_query_timeout: "0.2s" })), "dfp.yaml"), {
      log: () => {},
      dnsLookup: () => new Promise(() => {}),
    });
    await proxy.start();
    try {
      const port = Object.values(proxy.listenerAddresses())[0]!.port;
      const reply = await request(port, { headers: { host: "slow.example.com" } });
      assert.equal(reply.status, 503);
      assert.equal(reply.headers["x-trellis-response-flags"], "DF");
      assert.match(
        renderEnvoyStatsText(proxy.stats),
        /^dns_cache\.dynamic_forward_proxy_cache_config\.dns_query_timeout: 1$/m,
      );
    } finally {
      await proxy.shutdown(0);
    }
  });

  test("max_hosts bounds the cache: one host more is refused 503 UO dns_cache_overflow", async () => {
    const { proxy, port, stat } = await startDfp(
      { max_hosts: 1 },
      { "a.example.com": "127.0.0.1", "b.example.com": "127.0.0.1" },
    );
    try {
      assert.equal((await request(port, { headers: { host: `a.example.com:${upstream.port}` } })).status, 200);
      const refused = await request(port, { headers: { host: `b.example.com:${upstream.port}` } });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers["x-trellis-response-flags"], "UO");
      assert.match(String(refused.headers["x-trellis-details"]), /^dns_cache_overflow/);
      assert.equal(stat("dns_cache.dynamic_forward_proxy_cache_config.host_overflow"), 1);
    } finally {
      await proxy.shutdown(0);
    }
  });

  test("an IP literal authority needs no lookup", async () => {
    const { proxy, port, dns } = await startDfp({}, {});
    try {
      const reply = await request(port, { headers: { host: `127.0.0.1:${upstream.port}` } });
      assert.equal(reply.status, 200);
      assert.deepEqual(dns.asked, []);
    } finally {
      await proxy.shutdown(0);
    }
  });
});

describe("dynamic forward proxy configuration", () => {
  const issues = (raw: Raw): string[] => {
    try {
      parseBootstrap(JSON.stringify(raw), "dfp.yaml");
    } catch (err) {
      if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
      throw err;
    }
    return [];
  };

  test("the docs' bootstrap parses", () => {
    assert.deepEqual(issues(dfpBootstrap()), []);
  });

  test("another custom cluster type is refused by name", () => {
    const raw = dfpBootstrap();
    const cluster = (raw.static_resources as { clusters: Raw[] }).clusters[0]!;
    cluster.cluster_type = { name: "envoy.clusters.aggregate", typed_config: {} };
    assert.ok(
      issues(raw).some((i) => i.includes("cluster_type.name") && i.includes("envoy.clusters.aggregate")),
      JSON.stringify(issues(raw)),
    );
  });

  test("DNS cache fields Trellis cannot honour are refused with their path", () => {
    const raw = dfpBootstrap({ dns_resolvers: [{ socket_address: { address: "8.8.8.8", port_value: 53 } }] });
    const found = issues(raw);
    assert.ok(
      found.some((i) => i.includes("dns_cache_config.dns_resolvers") && i.includes("not supported")),
      JSON.stringify(found),
    );
  });
});

describe("trellis proxy --bootstrap with a dynamic forward proxy", () => {
  test("the YAML of Envoy's docs runs as written: a request for localhost:PORT reaches the server there", async () => {
    const upstream = await startEchoServer("external");
    const [listenerPort, adminPort] = await freePorts(2);
    const dir = mkdtempSync(join(tmpdir(), "trellis-dfp-"));
    const file = join(dir, "dfp.yaml");
    writeFileSync(
      file,
      `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: ${adminPort} } }
static_resources:
  listeners:
    - name: listener_0
      address: { socket_address: { address: 127.0.0.1, port_value: ${listenerPort} } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
                route_config:
                  name: local_route
                  virtual_hosts:
                    - name: local_service
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          route: { cluster: dynamic_forward_proxy_cluster }
                http_filters:
                  - name: envoy.filters.http.dynamic_forward_proxy
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.dynamic_forward_proxy.v3.FilterConfig
                      dns_cache_config:
                        name: dynamic_forward_proxy_cache_config
                        dns_lookup_family: V4_ONLY
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: dynamic_forward_proxy_cluster
      lb_policy: CLUSTER_PROVIDED
      cluster_type:
        name: envoy.clusters.dynamic_forward_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.clusters.dynamic_forward_proxy.v3.ClusterConfig
          dns_cache_config:
            name: dynamic_forward_proxy_cache_config
            dns_lookup_family: V4_ONLY
`,
    );
    const trellis = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));
    const child = spawn(process.execPath, [trellis, "proxy", "--bootstrap", file], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    try {
      const start = Date.now();
      while ((await fetch(`http://127.0.0.1:${adminPort}/ready`).catch(() => undefined))?.status !== 200) {
        if (child.exitCode !== null || Date.now() - start > 20_000) assert.fail(`the proxy did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const reply = await request(listenerPort, { path: "/hello", headers: { host: `localhost:${upstream.port}` } });
      assert.equal(reply.status, 200, reply.body);
      assert.equal(reply.json().url, "/hello");
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      await upstream.close();
    }
  });
});

/** Ports free right now (bound on port 0, then released) for a process that needs them in its file. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
