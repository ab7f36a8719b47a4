import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../errors.ts";
import type { HttpConnectionManager, Listener, TcpProxy } from "../types.ts";
import { HCM_TYPE_URL } from "./http-connection-manager.ts";
import { parseListener } from "./listener.ts";
import { TCP_PROXY_TYPE_URL } from "./tcp-proxy.ts";
import { assertIssues } from "./testing.ts";

const ROUTE_CONFIG = {
  name: "local",
  virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "app" } }] }],
};

function listener(filter: unknown, extra: Record<string, unknown> = {}): unknown {
  return {
    name: "l",
    address: { socket_address: { address: "127.0.0.1", port_value: 8080 } },
    filter_chains: [{ filters: [filter] }],
    ...extra,
  };
}

function hcmFilter(config: Record<string, unknown>): unknown {
  return {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: { "@type": HCM_TYPE_URL, stat_prefix: "ingress", route_config: ROUTE_CONFIG, ...config },
  };
}

function hcm(config: Record<string, unknown> = {}): HttpConnectionManager {
  const filter = parseListener(listener(hcmFilter(config))).filterChains[0].filters[0];
  assert.equal(filter.kind, "http_connection_manager");
  return filter.config as HttpConnectionManager;
}

function tcpProxy(config: Record<string, unknown>): TcpProxy {
  const filter = parseListener(
    listener({ name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": TCP_PROXY_TYPE_URL, ...config } }),
  ).filterChains[0].filters[0];
  assert.equal(filter.kind, "tcp_proxy");
  return filter.config as TcpProxy;
}

const HCM_AT = "filter_chains[0].filters[0].typed_config";

describe("listener", () => {
  test("fields and defaults", () => {
    const parsed: Listener = parseListener(listener(hcmFilter({})));
    assert.equal(parsed.name, "l");
    assert.deepEqual(parsed.address, { address: "127.0.0.1", port: 8080 });
    assert.equal(parsed.perConnectionBufferLimitBytes, 1_048_576);
    assert.equal(parsed.filterChains.length, 1);
    assert.equal(parsed.filterChains[0].name, "");
    assert.equal(parsed.filterChains[0].filters[0].name, "envoy.filters.network.http_connection_manager");
    const tuned = parseListener(
      listener(hcmFilter({}), {
        perConnectionBufferLimitBytes: { value: 65536 },
        address: { socketAddress: { address: "::", portValue: 0 } },
        filter_chains: [{ name: "main", filter_chain_match: {}, filters: [hcmFilter({})] }],
        traffic_direction: "OUTBOUND",
      }),
    );
    assert.equal(tuned.perConnectionBufferLimitBytes, 65536);
    assert.deepEqual(tuned.address, { address: "::", port: 0 });
    assert.equal(tuned.filterChains[0].name, "main");
  });

  test("errors: name, address, ports, chains, filter_chain_match, listener filters", () => {
    assertIssues(
      () =>
        parseListener({
          address: { socket_address: { address: "localhost", port_value: 65536 } },
          filter_chains: [
            {
              filter_chain_match: { address_suffix: "x", server_names: ["a.*.com", "b.com"], transport_protocol: "x" },
              filters: [],
            },
            { filters: [hcmFilter({})] },
          ],
          listener_filters: [{ name: "envoy.filters.listener.local_ratelimit" }],
        }),
      [
        ["name", "required"],
        ["address.socket_address.address", 'expected an IP address, got "localhost"'],
        ["address.socket_address.port_value", "expected an integer 0-65535, got 65536"],
        ["filter_chains[0].filter_chain_match.address_suffix", '"address_suffix" is not supported yet'],
        [
          "filter_chains[0].filter_chain_match.server_names[0]",
          'expected a host name or a "*.suffix" wildcard, got "a.*.com"',
        ],
        ["filter_chains[0].filter_chain_match.transport_protocol", 'expected one of tls, raw_buffer, got "x"'],
        ["filter_chains[0].filters", "expected at least one network filter"],
        [
          "listener_filters[0].name",
          'unknown listener filter "envoy.filters.listener.local_ratelimit" (supported: envoy.filters.listener.tls_inspector, envoy.filters.listener.proxy_protocol, envoy.filters.listener.original_dst, envoy.filters.listener.http_inspector)',
        ],
      ],
    );
    assertIssues(
      () => parseListener({ name: "x", address: { pipe: { path: "/tmp/s" } }, filter_chains: [] }),
      [
        ["address.pipe", '"pipe" is not supported yet'],
        ["address.socket_address", "required"],
        ["filter_chains", "expected at least one filter chain (or a default_filter_chain)"],
      ],
    );
    assertIssues(
      () =>
        parseListener({
          name: "x",
          address: { socket_address: { address: "10.0.0.1", protocol: "UDP" } },
          filter_chains: [{ filters: [hcmFilter({})], transport_socket: { name: "envoy.transport_sockets.alts" } }],
        }),
      [
        ["address.socket_address.protocol", "UDP is not supported yet"],
        [
          "filter_chains[0].transport_socket",
          'transport socket "envoy.transport_sockets.alts" is not supported (only envoy.transport_sockets.raw_buffer and envoy.transport_sockets.tls are supported)',
        ],
      ],
    );
    assertIssues(
      () => parseListener({ name: "x", filter_chains: [{ filters: [hcmFilter({})] }] }),
      [["address", "required"]],
    );
  });

  test("listener filter original_dst: by name or @type, traffic_direction ignored (Windows only), once, no other field", () => {
    const tcp = { name: "tcp", typed_config: { "@type": TCP_PROXY_TYPE_URL, stat_prefix: "t", cluster: "c" } };
    const byName = parseListener(
      listener(tcp, { listener_filters: [{ name: "envoy.filters.listener.original_dst" }] }),
    );
    assert.deepEqual(byName.listenerFilters, [{ kind: "original_dst", name: "envoy.filters.listener.original_dst" }]);
    const typed = {
      name: "capture",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
        traffic_direction: "OUTBOUND",
      },
    };
    assert.deepEqual(parseListener(listener(tcp, { listener_filters: [typed] })).listenerFilters, [
      { kind: "original_dst", name: "capture" },
    ]);
    assertIssues(
      () =>
        parseListener(
          listener(tcp, {
            listener_filters: [
              typed,
              { name: "envoy.filters.listener.original_dst", typed_config: { ...typed.typed_config, mark: 7 } },
            ],
          }),
        ),
      [
        ["listener_filters[1].typed_config.mark", 'unknown field "mark"'],
        ["listener_filters[1]", "envoy.filters.listener.original_dst is listed twice"],
      ],
    );
  });

  test("network filters: unknown ones are named, terminal filters must be last, @type must agree with the name", () => {
    assertIssues(
      () =>
        parseListener({
          name: "x",
          address: { socket_address: { address: "0.0.0.0", port_value: 1 } },
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.rbac",
                  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC" },
                },
                { name: "envoy.filters.network.ext_authz" },
                hcmFilter({}),
                { name: "envoy.filters.network.tcp_proxy", typed_config: { "@type": HCM_TYPE_URL } },
                { name: "envoy.filters.network.tcp_proxy" },
                { name: "custom", typed_config: { stat_prefix: "x" } },
                { name: "last", typed_config: { "@type": TCP_PROXY_TYPE_URL, stat_prefix: "t", cluster: "c" } },
              ],
            },
          ],
        }),
      [
        [
          "filter_chains[0].filters[0].typed_config",
          'unknown network filter "envoy.filters.network.rbac" (type type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC)',
        ],
        ["filter_chains[0].filters[1].name", 'unknown network filter "envoy.filters.network.ext_authz"'],
        [
          "filter_chains[0].filters[2]",
          "envoy.filters.network.http_connection_manager is a terminal filter and must be last",
        ],
        [
          "filter_chains[0].filters[3].typed_config",
          `@type ${HCM_TYPE_URL} does not match the filter name "envoy.filters.network.tcp_proxy"`,
        ],
        ["filter_chains[0].filters[4].typed_config", "required: the configuration of envoy.filters.network.tcp_proxy"],
        ["filter_chains[0].filters[5].typed_config.@type", "required: the type URL, got nothing"],
        ["filter_chains[0].filters[5].name", 'unknown network filter "custom"'],
      ],
    );
  });

  test("a filter is recognised by its @type whatever its name", () => {
    const byType = parseListener(
      listener({ name: "my-hcm", typed_config: { "@type": HCM_TYPE_URL, stat_prefix: "s", route_config: {} } }),
    );
    assert.equal(byType.filterChains[0].filters[0].kind, "http_connection_manager");
    assert.equal(byType.filterChains[0].filters[0].name, "my-hcm");
  });

  test("use_original_dst and bind_to_port: Envoy's defaults (false, true), the wrapper form, bad values named", () => {
    const plain = parseListener(listener(hcmFilter({})));
    assert.equal(plain.useOriginalDst, false);
    assert.equal(plain.bindToPort, true);
    const capture = parseListener(listener(hcmFilter({}), { use_original_dst: true, bind_to_port: { value: false } }));
    assert.equal(capture.useOriginalDst, true);
    assert.equal(capture.bindToPort, false);
    assertIssues(
      () => parseListener(listener(hcmFilter({}), { use_original_dst: "yes", bind_to_port: 0 })),
      [
        ["use_original_dst", 'expected true or false, got "yes"'],
        ["bind_to_port", "expected true or false, got 0"],
      ],
    );
  });

  test("the ConfigError names the listener, or the path given", () => {
    try {
      parseListener({ name: "web", address: {} });
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.source, "listener web");
      assert.deepEqual(
        error.issues.map((i) => i.path),
        ["address.socket_address", "filter_chains"],
      );
    }
    try {
      parseListener({ address: {} }, "lds.resources[2]");
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.source, "lds.resources[2]");
      assert.equal(error.issues[0].path, "lds.resources[2].name");
    }
    assert.throws(
      () => parseListener("nope"),
      (error: ConfigError) =>
        error.source === "listener" && error.issues[0].message === 'expected an object, got "nope"',
    );
  });
});

describe("http_connection_manager", () => {
  test("defaults", () => {
    const parsed = hcm();
    assert.deepEqual(
      { ...parsed, routeConfig: undefined },
      {
        statPrefix: "ingress",
        codecType: "AUTO",
        routeConfig: undefined,
        rds: undefined,
        requestTimeoutMs: 0,
        requestHeadersTimeoutMs: 0,
        streamIdleTimeoutMs: 300_000,
        idleTimeoutMs: 3_600_000,
        httpFilters: [],
        upgradeTypes: [],
        generateRequestId: true,
        useRemoteAddress: false,
        xffNumTrustedHops: 0,
        skipXffAppend: false,
        internalAddressConfig: undefined,
        preserveExternalRequestId: false,
        serverName: "trellis",
        maxRequestHeadersKb: 60,
        accessLog: [],
      },
    );
    assert.equal(parsed.routeConfig!.name, "local");
    assert.equal(parsed.routeConfig!.virtualHosts[0].routes[0].name, "all/0");
  });

  test("every field, camelCase too", () => {
    const parsed = hcm({
      codecType: "HTTP2",
      requestTimeout: "10s",
      streamIdleTimeout: { seconds: 0 },
      commonHttpProtocolOptions: { idleTimeout: "60s" },
      upgradeConfigs: [{ upgradeType: "WebSocket" }, { upgrade_type: "CONNECT", enabled: { value: false } }],
      generateRequestId: { value: false },
      useRemoteAddress: true,
      serverName: "edge",
      maxRequestHeadersKb: 96,
    });
    assert.equal(parsed.codecType, "HTTP2");
    assert.equal(parsed.requestTimeoutMs, 10_000);
    assert.equal(parsed.streamIdleTimeoutMs, 0);
    assert.equal(parsed.idleTimeoutMs, 60_000);
    assert.deepEqual(parsed.upgradeTypes, ["websocket"]);
    assert.equal(parsed.generateRequestId, false);
    assert.equal(parsed.useRemoteAddress, true);
    assert.equal(parsed.serverName, "edge");
    assert.equal(parsed.maxRequestHeadersKb, 96);
    assert.equal(hcm({ codec_type: 1 }).codecType, "HTTP1");
  });

  test("edge trust and the headers timeout: use_remote_address's companions are read, a bad range is refused by path", () => {
    const parsed = hcm({
      request_headers_timeout: "5s",
      xff_num_trusted_hops: 2,
      skip_xff_append: true,
      preserve_external_request_id: true,
      internal_address_config: {
        unix_sockets: true,
        cidr_ranges: [
          { address_prefix: "10.0.0.0", prefix_len: 8 },
          { address_prefix: "fd00::", prefix_len: { value: 8 } },
        ],
      },
    });
    assert.equal(parsed.requestHeadersTimeoutMs, 5000);
    assert.equal(parsed.xffNumTrustedHops, 2);
    assert.equal(parsed.skipXffAppend, true);
    assert.equal(parsed.preserveExternalRequestId, true);
    assert.deepEqual(parsed.internalAddressConfig, {
      unixSockets: true,
      cidrRanges: [
        { addressPrefix: "10.0.0.0", prefixLen: 8 },
        { addressPrefix: "fd00::", prefixLen: 8 },
      ],
    });
    assertIssues(
      () =>
        hcm({
          internal_address_config: {
            cidr_ranges: [
              { address_prefix: "10.0.0", prefix_len: 8 },
              { address_prefix: "10.0.0.0", prefix_len: 33 },
            ],
          },
        }),
      [
        [`${HCM_AT}.internal_address_config.cidr_ranges[0].address_prefix`, /expected an IPv4 or IPv6 address/],
        [`${HCM_AT}.internal_address_config.cidr_ranges[1].prefix_len`, /32/],
      ],
    );
  });

  test("http filters keep name, type and config; the router is implicit and dropped", () => {
    const fault = { abort: { http_status: 503 } };
    const parsed = hcm({
      http_filters: [
        {
          name: "envoy.filters.http.fault",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault", ...fault },
        },
        { name: "custom.untyped" },
        {
          name: "envoy.filters.http.router",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
        },
      ],
    });
    assert.deepEqual(parsed.httpFilters, [
      {
        name: "envoy.filters.http.fault",
        typeUrl: "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
        config: fault,
      },
      { name: "custom.untyped", typeUrl: "", config: {} },
    ]);
    assert.deepEqual(
      hcm({
        http_filters: [
          {
            name: "router",
            typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
          },
        ],
      }).httpFilters,
      [],
    );
  });

  test("errors", () => {
    assertIssues(
      () =>
        parseListener(
          listener({
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": HCM_TYPE_URL,
              rds: { route_config_name: "r" },
              codec_type: "HTTP3",
              max_request_headers_kb: 8193,
              access_log_flush_interval: "1s",
              http_filters: [
                { name: "envoy.filters.http.router" },
                { name: "x", typed_config: "oops" },
                { typed_config: { "@type": "t" }, is_optional: true },
              ],
              common_http_protocol_options: { idle_timeout: "1h", max_requests_per_connection: 5 },
              upgrade_configs: [{ enabled: true }],
            },
          }),
        ),
      [
        [`${HCM_AT}.access_log_flush_interval`, '"access_log_flush_interval" is not supported yet'],
        [`${HCM_AT}.stat_prefix`, "required"],
        [`${HCM_AT}.codec_type`, "HTTP3 is not supported yet"],
        [`${HCM_AT}.rds.config_source`, "required"],
        [
          `${HCM_AT}.common_http_protocol_options.max_requests_per_connection`,
          '"max_requests_per_connection" is not supported yet',
        ],
        [
          `${HCM_AT}.common_http_protocol_options.idle_timeout`,
          'expected a duration like "1.5s" or {seconds, nanos}, got "1h"',
        ],
        [`${HCM_AT}.http_filters[0]`, "the router filter must be the last HTTP filter"],
        [`${HCM_AT}.http_filters[1].typed_config`, 'expected an object with "@type", got "oops"'],
        [`${HCM_AT}.http_filters[2].is_optional`, '"is_optional" is not supported yet'],
        [`${HCM_AT}.http_filters[2].name`, "required"],
        [`${HCM_AT}.upgrade_configs[0].upgrade_type`, "required"],
        [`${HCM_AT}.max_request_headers_kb`, "expected an integer 1-8192, got 8193"],
      ],
    );
    assertIssues(
      () =>
        parseListener(
          listener({ name: "envoy.filters.network.http_connection_manager", typed_config: { stat_prefix: "s" } }),
        ),
      [
        [`${HCM_AT}.@type`, "required: the type URL, got nothing"],
        [`${HCM_AT}.route_config`, "required"],
      ],
    );
  });
});

describe("tcp_proxy", () => {
  test("a cluster, with the idle timeout default", () => {
    assert.deepEqual(tcpProxy({ stat_prefix: "tcp", cluster: "db" }), {
      statPrefix: "tcp",
      cluster: "db",
      weightedClusters: undefined,
      idleTimeoutMs: 3_600_000,
    });
    assert.equal(tcpProxy({ statPrefix: "tcp", cluster: "db", idleTimeout: "0s" }).idleTimeoutMs, 0);
  });

  test("weighted clusters", () => {
    const parsed = tcpProxy({
      stat_prefix: "tcp",
      weighted_clusters: {
        clusters: [
          { name: "a", weight: 1 },
          { name: "b", weight: 3 },
        ],
      },
    });
    assert.equal(parsed.cluster, undefined);
    assert.deepEqual(
      parsed.weightedClusters?.map((c) => [c.name, c.weight]),
      [
        ["a", 1],
        ["b", 3],
      ],
    );
    assert.deepEqual(parsed.weightedClusters?.[0].requestHeadersToAdd, []);
  });

  test("errors", () => {
    assertIssues(
      () => tcpProxy({}),
      [
        [`${HCM_AT}.stat_prefix`, "required"],
        [HCM_AT, "one of cluster, weighted_clusters is required"],
      ],
    );
    assertIssues(
      () =>
        tcpProxy({
          stat_prefix: "t",
          cluster: "a",
          weighted_clusters: { clusters: [{ name: "b", weight: 1, request_headers_to_add: [] }] },
          max_connect_attempts: 3,
        }),
      [
        [`${HCM_AT}.max_connect_attempts`, '"max_connect_attempts" is not supported yet'],
        [HCM_AT, "only one of cluster, weighted_clusters may be set, got cluster and weighted_clusters"],
      ],
    );
    assertIssues(
      () =>
        tcpProxy({
          stat_prefix: "t",
          weighted_clusters: { clusters: [{ name: "b", weight: 1, request_headers_to_add: [] }], total_weight: 1 },
        }),
      [
        [`${HCM_AT}.weighted_clusters.total_weight`, 'unknown field "total_weight"'],
        [`${HCM_AT}.weighted_clusters.clusters[0].request_headers_to_add`, 'unknown field "request_headers_to_add"'],
      ],
    );
  });
});

describe("http_connection_manager rds", () => {
  const hcmWith = (extra: Record<string, unknown>): unknown =>
    listener({
      name: "envoy.filters.network.http_connection_manager",
      typed_config: { "@type": HCM_TYPE_URL, stat_prefix: "s", ...extra },
    });

  test("rds over ADS names the route configuration; there is no inline one", () => {
    const l = parseListener(hcmWith({ rds: { route_config_name: "outbound-http", config_source: { ads: {} } } }));
    const f = l.filterChains[0]!.filters[0]!;
    assert.equal(f.kind, "http_connection_manager");
    if (f.kind !== "http_connection_manager") return;
    assert.deepEqual(f.config.rds, { routeConfigName: "outbound-http" });
    assert.equal(f.config.routeConfig, undefined);
  });

  test("a config source other than ADS, or both rds and route_config, is refused", () => {
    assertIssues(
      () => parseListener(hcmWith({ rds: { route_config_name: "r", config_source: { path: "/x" } } })),
      [
        [`${HCM_AT}.rds.config_source.path`, '"path" is not supported yet'],
        [`${HCM_AT}.rds.config_source.ads`, "required: Trellis fetches routes over ADS only"],
      ],
    );
    assertIssues(
      () =>
        parseListener(
          hcmWith({ rds: { route_config_name: "r", config_source: { ads: {} } }, route_config: ROUTE_CONFIG }),
        ),
      [[HCM_AT, "only one of rds, route_config may be set, got rds and route_config"]],
    );
  });
});
