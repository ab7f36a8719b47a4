import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseBootstrap } from "./bootstrap.ts";
import { ConfigError } from "./errors.ts";
import type { HttpConnectionManager, RouteAction, TcpProxy } from "./xds/types.ts";
import { assertIssues, issuesOf } from "./xds/parse/testing.ts";

function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`./xds/parse/testdata/${name}`, import.meta.url)), "utf8");
}

const HCM = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";

/** A minimal valid bootstrap in YAML with one HTTP listener routing to `routeCluster` and one cluster. */
function minimal(routeCluster = "app"): string {
  return `
static_resources:
  listeners:
    - name: http
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: http
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes: [{ match: { prefix: / }, route: { cluster: ${routeCluster} } }]
  clusters:
    - name: app
      load_assignment:
        cluster_name: app
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8080 } } } }] }]
`;
}

describe("parseBootstrap", () => {
  test("a full realistic bootstrap in YAML", () => {
    const bootstrap = parseBootstrap(fixture("bootstrap-full.yaml"), "bootstrap-full.yaml");
    assert.deepEqual(bootstrap.node, {
      id: "sidecar~10.0.0.5~reviews-v1.default~default.svc.cluster.local",
      cluster: "reviews",
      metadata: { version: "v1" },
    });
    assert.deepEqual(bootstrap.admin, { address: { address: "127.0.0.1", port: 15000 }, accessLog: [] });
    assert.equal(bootstrap.drainTimeoutMs, 2_500);

    const [http, tcp] = bootstrap.staticResources.listeners;
    assert.equal(http.name, "outbound_http");
    assert.deepEqual(http.address, { address: "0.0.0.0", port: 15001 });
    assert.equal(http.perConnectionBufferLimitBytes, 32_768);
    const hcm = http.filterChains[0].filters[0].config as HttpConnectionManager;
    assert.equal(hcm.statPrefix, "outbound_http");
    assert.equal(hcm.codecType, "HTTP1");
    assert.equal(hcm.streamIdleTimeoutMs, 60_000);
    assert.equal(hcm.requestTimeoutMs, 30_000);
    assert.equal(hcm.idleTimeoutMs, 900_000);
    assert.equal(hcm.useRemoteAddress, true);
    assert.deepEqual(hcm.upgradeTypes, ["websocket"]);
    assert.deepEqual(
      hcm.httpFilters.map((f) => f.name),
      ["envoy.filters.http.fault"],
    );
    assert.deepEqual(hcm.httpFilters[0].config, { abort: { http_status: 503, percentage: { numerator: 10 } } });
    const routes = hcm.routeConfig!;
    assert.equal(routes.name, "outbound");
    assert.deepEqual(routes.responseHeadersToAdd, [
      { key: "x-mesh", value: "trellis", appendAction: "APPEND_IF_EXISTS_OR_ADD" },
    ]);
    const [reviews, fallback] = routes.virtualHosts;
    assert.deepEqual(reviews.domains, ["reviews", "reviews.default.svc.cluster.local", "reviews:9080"]);
    assert.deepEqual(
      reviews.routes.map((r) => r.name),
      ["reviews-v2-for-jason", "reviews/1"],
    );
    const jason = reviews.routes[0].action as RouteAction;
    assert.equal(jason.cluster, "reviews-v2");
    assert.equal(jason.timeoutMs, 500);
    assert.deepEqual([jason.retryPolicy?.retryOn, jason.retryPolicy?.numRetries], [["5xx"], 3]);
    assert.deepEqual(reviews.routes[0].match.headers[0], {
      name: "end-user",
      match: { kind: "exact", value: "jason", ignoreCase: false },
      invertMatch: false,
      treatMissingAsEmpty: false,
    });
    const split = reviews.routes[1].action as RouteAction;
    assert.deepEqual(
      split.weightedClusters?.map((c) => [c.name, c.weight]),
      [
        ["reviews-v1", 90],
        ["reviews-v2", 10],
      ],
    );
    assert.deepEqual(split.weightedClusters?.[1].requestHeadersToAdd, [
      { key: "x-canary", value: "true", appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" },
    ]);
    assert.deepEqual(split.hashPolicy, [
      { kind: "header", headerName: "x-user", terminal: true },
      { kind: "source_ip", terminal: false },
    ]);
    assert.deepEqual(fallback.domains, ["*"]);
    assert.deepEqual(fallback.routes[0].action, { kind: "direct_response", status: 200, body: "ok" });
    assert.equal(fallback.routes[1].match.path.kind, "safe_regex");
    assert.equal(fallback.routes[1].action.kind === "redirect" && fallback.routes[1].action.responseCode, 302);

    assert.equal(tcp.name, "inbound_tcp");
    assert.deepEqual(tcp.address, { address: "::", port: 15006 });
    assert.deepEqual(tcp.filterChains[0].filters[0].config as TcpProxy, {
      statPrefix: "inbound",
      cluster: "local-app",
      weightedClusters: undefined,
      idleTimeoutMs: 600_000,
    });

    const [v1, v2, local] = bootstrap.staticResources.clusters;
    assert.equal(v1.lbPolicy, "LEAST_REQUEST");
    assert.equal(v1.leastRequestChoiceCount, 3);
    assert.equal(v1.connectTimeoutMs, 250);
    assert.deepEqual(v1.extensions, {});
    assert.equal(v1.circuitBreakers.default.maxConnections, 100);
    assert.deepEqual(v1.loadAssignment?.endpoints[0].locality, { region: "eu", zone: "eu-west-1a", subZone: "" });
    assert.deepEqual(v1.loadAssignment?.endpoints[0].lbEndpoints[1], {
      address: { address: "10.0.1.2", port: 9080 },
      loadBalancingWeight: 3,
      healthStatus: "HEALTHY",
      hostname: undefined,
    });
    assert.equal(v2.type, "STRICT_DNS");
    assert.equal(v2.http2, true);
    assert.equal(v2.upstreamIdleTimeoutMs, 30_000);
    assert.equal(v2.maxRequestsPerConnection, 1000);
    assert.equal(v2.dnsLookupFamily, "V4_ONLY");
    assert.equal(v2.dnsRefreshRateMs, 10_000);
    assert.deepEqual(v2.ringHash, { minimumRingSize: 2048, maximumRingSize: 8_388_608 });
    assert.equal(v2.loadAssignment?.endpoints[0].lbEndpoints[0].hostname, "reviews-v2.internal");
    assert.equal(local.type, "STATIC");
    assert.equal(local.connectTimeoutMs, 1_000);
  });

  test("the same bootstrap as lowerCamelCase JSON parses to the same config", () => {
    const fromYaml = parseBootstrap(fixture("bootstrap-full.yaml"), "bootstrap-full.yaml");
    const json = fixture("bootstrap-full.json");
    assert.match(json, /"statPrefix"/);
    assert.deepEqual(parseBootstrap(json, "bootstrap-full.json"), fromYaml);
  });

  test("an empty file is a bootstrap with defaults", () => {
    assert.deepEqual(parseBootstrap("", "empty.yaml"), {
      node: { id: "", cluster: "", metadata: {} },
      admin: undefined,
      staticResources: { listeners: [], clusters: [] },
      drainTimeoutMs: 5_000,
    });
    assert.equal(parseBootstrap(minimal(), "m.yaml").staticResources.listeners.length, 1);
  });

  test("trellis.drain_timeout", () => {
    assert.equal(parseBootstrap("trellis: { drain_timeout: 30s }", "b").drainTimeoutMs, 30_000);
    assert.equal(parseBootstrap('{"trellis": {"drainTimeout": {"seconds": 1}}}', "b").drainTimeoutMs, 1_000);
    assertIssues(
      () => parseBootstrap("trellis: { drain_timeout: -5s, drain_mode: x }", "b"),
      [
        ["trellis.drain_mode", 'unknown field "drain_mode"'],
        ["trellis.drain_timeout", 'expected a duration that is not negative, got "-5s"'],
      ],
    );
  });

  test("YAML and JSON syntax errors carry line and column", () => {
    let error: unknown;
    try {
      parseBootstrap("node:\n  id: a\n bad: [1,\n", "broken.yaml");
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof ConfigError);
    assert.equal(error.source, "broken.yaml");
    assert.equal(error.code, "TRELLIS_CONFIG_INVALID");
    assert.ok(error.issues.length >= 1);
    assert.match(error.issues[0].message, /^syntax error at line 3, column \d+: /);
    const json = issuesOf(() => parseBootstrap('{\n  "node": {"id": "a"\n  "cluster": "b"}\n}', "b.json"));
    assert.deepEqual(json, [
      { path: "", message: "syntax error at line 3, column 3: Missing , between flow map items" },
    ]);
    const duplicate = issuesOf(() => parseBootstrap("node: {}\nnode: {}\n", "dup.yaml"));
    assert.match(duplicate[0].message, /^syntax error at line 2, column 1: Map keys must be unique/);
  });

  test("the root must be a mapping", () => {
    assertIssues(() => parseBootstrap("- a\n- b\n", "list.yaml"), [["", "expected an object, got a list"]]);
  });

  test("node, admin and the top-level fields", () => {
    const parsed = parseBootstrap(
      `
node: { id: n1, cluster: c1, metadata: { a: { b: 1 } }, locality: { zone: z } }
admin:
  access_log_path: /dev/null
  address: { socket_address: { address: "::1", port_value: 15000 } }
layered_runtime: {}
stats_config: {}
`,
      "b",
    );
    assert.deepEqual(parsed.node, { id: "n1", cluster: "c1", metadata: { a: { b: 1 } } });
    assert.deepEqual(parsed.admin, {
      address: { address: "::1", port: 15000 },
      accessLog: [],
      accessLogPath: "/dev/null",
    });
    assertIssues(
      () =>
        parseBootstrap(
          `
node: { id: 5, color: red }
admin: { address: { socket_address: { address: localhost, port_value: 99999 } } }
dynamic_resources: { ads_config: {} }
overload_manager: {}
static_resources: { secrets: [{ name: s, generic_secret: {} }] }
`,
          "b",
        ),
      [
        ["overload_manager", '"overload_manager" is not supported yet'],
        ["static_resources.secrets[0].generic_secret", '"generic_secret" is not supported yet'],
        ["static_resources.secrets[0]", "one of tls_certificate, validation_context is required"],
        ["node.color", 'unknown field "color"'],
        ["node.id", "expected a string, got 5"],
        ["dynamic_resources.lds_config", "required"],
        ["dynamic_resources.cds_config", "required"],
        ["dynamic_resources.ads_config.api_type", "required"],
        ["dynamic_resources.ads_config.grpc_services", "expected exactly one gRPC service, got 0"],
        ["admin.address.socket_address.address", 'expected an IP address, got "localhost"'],
        ["admin.address.socket_address.port_value", "expected an integer 0-65535, got 99999"],
      ],
    );
    assertIssues(() => parseBootstrap("admin: {}", "b"), [["admin.address", "required"]]);
  });

  test("names are unique, listener addresses are unique, referenced clusters exist", () => {
    const text = `
static_resources:
  listeners:
    - name: a
      address: { socket_address: { address: 127.0.0.1, port_value: 9000 } }
      filter_chains: [{ filters: [{ name: envoy.filters.network.tcp_proxy, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: ghost } }] }]
    - name: a
      address: { socket_address: { address: 127.0.0.1, port_value: 9000 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: h
                route_config:
                  virtual_hosts:
                    - name: v
                      domains: ["*"]
                      routes:
                        - match: { prefix: /a }
                          route: { cluster: app }
                        - match: { prefix: /b }
                          route: { weighted_clusters: { clusters: [{ name: app, weight: 1 }, { name: missing, weight: 1 }] } }
    - name: b
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains: [{ filters: [{ name: envoy.filters.network.tcp_proxy, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, weighted_clusters: { clusters: [{ name: gone, weight: 1 }] } } }] }]
    - name: c
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains: [{ filters: [{ name: envoy.filters.network.tcp_proxy, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: eds } }] }]
  clusters:
    - name: app
    - name: eds
      type: EDS
      eds_cluster_config: { service_name: eds }
    - name: app
`;
    const L = "static_resources.listeners";
    const hcm = `${L}[1].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[1].route`;
    assertIssues(
      () => parseBootstrap(text, "refs.yaml"),
      [
        [`${L}[1].name`, `duplicate listener name "a" (also at ${L}[0])`],
        ["static_resources.clusters[2].name", 'duplicate cluster name "app" (also at static_resources.clusters[0])'],
        [`${L}[1].address`, 'address 127.0.0.1:9000 is already used by listener "a"'],
        [
          `${L}[0].filter_chains[0].filters[0].typed_config.cluster`,
          'unknown cluster "ghost": no cluster in static_resources.clusters has this name',
        ],
        [
          `${hcm}.weighted_clusters.clusters[1].name`,
          'unknown cluster "missing": no cluster in static_resources.clusters has this name',
        ],
        [
          `${L}[2].filter_chains[0].filters[0].typed_config.weighted_clusters.clusters[0].name`,
          'unknown cluster "gone": no cluster in static_resources.clusters has this name',
        ],
      ],
    );
  });

  test("a bootstrap with many mistakes reports all of them at once", () => {
    const text = fixture("bootstrap-many-errors.yaml");
    let error: unknown;
    try {
      parseBootstrap(text, "bootstrap-many-errors.yaml");
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof ConfigError);
    assert.equal(error.source, "bootstrap-many-errors.yaml");
    const C = "static_resources.clusters";
    const VH = `${HCM}.route_config.virtual_hosts`;
    assert.deepEqual(error.issues, [
      {
        path: "static_resources.listeners[0].address.socket_address.port_value",
        message: 'expected an integer 0-65535, got "http"',
      },
      {
        path: `${VH}[0].domains[1]`,
        message: 'only one wildcard "*", at the start or the end, is allowed, got "a*.com"',
      },
      { path: `${VH}[0].routes[0].match.prefx`, message: 'unknown field "prefx"' },
      {
        path: `${VH}[0].routes[0].match`,
        message: "one of prefix, path, safe_regex, path_separated_prefix, connect_matcher is required",
      },
      { path: `${VH}[0].routes[1].route.timeout`, message: 'expected a duration that is not negative, got "-1s"' },
      { path: `${VH}[1].domains[0]`, message: 'duplicate domain "example.com" (already in virtual host "one")' },
      {
        path: `${HCM}.stream_idle_timeout`,
        message: 'expected a duration like "1.5s" or {seconds, nanos}, got "5 minutes"',
      },
      { path: `${HCM}.http_filters[0]`, message: "the router filter must be the last HTTP filter" },
      {
        path: "static_resources.listeners[1].filter_chains[0].filters[0].name",
        message: 'unknown network filter "envoy.filters.network.mongo_proxy"',
      },
      {
        path: `${C}[0].lb_policy`,
        message: 'expected one of ROUND_ROBIN, LEAST_REQUEST, RING_HASH, RANDOM, MAGLEV, got "ROUND_ROBBIN"',
      },
      {
        path: `${C}[1].load_assignment.endpoints[0].lb_endpoints[2].endpoint.address.socket_address.port_value`,
        message: 'expected an integer 1-65535, got "abc"',
      },
      {
        path: `${C}[1].load_assignment.endpoints[0].lb_endpoints[3].endpoint.address.socket_address.address`,
        message: 'expected an IP address, got "db.internal"',
      },
      { path: `${C}[2].name`, message: "required" },
      {
        path: `${VH}[0].routes[1].route.cluster`,
        message: 'unknown cluster "web": no cluster in static_resources.clusters has this name',
      },
    ]);
    assert.match(
      error.message,
      /^bootstrap-many-errors\.yaml: invalid configuration:\n {2}- static_resources\.listeners\[0\]/,
    );
  });
});
