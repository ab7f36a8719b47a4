import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigError } from "../../errors.ts";
import type { Cluster } from "../types.ts";
import { HTTP_PROTOCOL_OPTIONS_KEY, HTTP_PROTOCOL_OPTIONS_TYPE_URL, parseCluster } from "./cluster.ts";
import { assertIssues } from "./testing.ts";
import { defaultCircuitBreakers } from "./circuit-breakers.ts";

function cluster(extra: Record<string, unknown> = {}): Cluster {
  return parseCluster({ name: "c", ...extra });
}

function endpoint(address: string, port: unknown = 80): unknown {
  return { endpoint: { address: { socket_address: { address, port_value: port } } } };
}

function withEndpoints(type: string, ...addresses: string[]): unknown {
  return {
    name: "c",
    type,
    load_assignment: { cluster_name: "c", endpoints: [{ lb_endpoints: addresses.map((a) => endpoint(a)) }] },
  };
}

function httpOptions(options: Record<string, unknown>): Record<string, unknown> {
  return { [HTTP_PROTOCOL_OPTIONS_KEY]: { "@type": HTTP_PROTOCOL_OPTIONS_TYPE_URL, ...options } };
}

describe("cluster", () => {
  test("defaults", () => {
    assert.deepEqual(cluster(), {
      name: "c",
      type: "STATIC",
      connectTimeoutMs: 5_000,
      lbPolicy: "ROUND_ROBIN",
      leastRequestChoiceCount: 2,
      ringHash: { minimumRingSize: 1024, maximumRingSize: 8_388_608 },
      maglevTableSize: 65_537,
      http2: false,
      upstreamIdleTimeoutMs: 3_600_000,
      maxRequestsPerConnection: 0,
      dnsRefreshRateMs: 5_000,
      dnsLookupFamily: "AUTO",
      loadAssignment: undefined,
      healthChecks: [],
      outlierDetection: undefined,
      healthyPanicThreshold: 50,
      circuitBreakers: defaultCircuitBreakers(),
      extensions: {},
    });
  });

  test("types, policies and lookup families by name and number", () => {
    assert.equal(cluster({ type: "STRICT_DNS" }).type, "STRICT_DNS");
    assert.equal(cluster({ type: "EDS" }).type, "EDS");
    assert.equal(cluster({ type: 1 }).type, "STRICT_DNS");
    for (const policy of ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "RING_HASH", "MAGLEV"]) {
      assert.equal(cluster({ lb_policy: policy }).lbPolicy, policy);
    }
    assert.equal(cluster({ lbPolicy: 5 }).lbPolicy, "MAGLEV");
    for (const family of ["AUTO", "V4_ONLY", "V6_ONLY", "V4_PREFERRED", "ALL"]) {
      assert.equal(cluster({ dns_lookup_family: family }).dnsLookupFamily, family);
    }
  });

  test("timeouts and load balancer settings", () => {
    const parsed = cluster({
      connect_timeout: "0.25s",
      dns_refresh_rate: { seconds: 30 },
      least_request_lb_config: { choice_count: { value: 4 } },
      ring_hash_lb_config: { minimum_ring_size: "512", maximum_ring_size: 4096, hash_function: "XX_HASH" },
      maglev_lb_config: { table_size: 251 },
    });
    assert.equal(parsed.connectTimeoutMs, 250);
    assert.equal(parsed.dnsRefreshRateMs, 30_000);
    assert.equal(parsed.leastRequestChoiceCount, 4);
    assert.deepEqual(parsed.ringHash, { minimumRingSize: 512, maximumRingSize: 4096 });
    assert.equal(parsed.maglevTableSize, 251);
  });

  test("HTTP/2 and connection options from HttpProtocolOptions", () => {
    const h2 = cluster({
      typed_extension_protocol_options: httpOptions({
        common_http_protocol_options: { idle_timeout: "30s", max_requests_per_connection: 100 },
        explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 100 } },
      }),
    });
    assert.equal(h2.http2, true);
    assert.equal(h2.upstreamIdleTimeoutMs, 30_000);
    assert.equal(h2.maxRequestsPerConnection, 100);
    const h1 = cluster({
      typedExtensionProtocolOptions: httpOptions({ explicitHttpConfig: { httpProtocolOptions: {} } }),
    });
    assert.equal(h1.http2, false);
    assert.equal(h1.upstreamIdleTimeoutMs, 3_600_000);
  });

  test("upstream codec knobs that change the wire are refused; windows and flood limits are accepted", () => {
    const key = `typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_KEY}"].explicit_http_config`;
    assertIssues(
      () =>
        cluster({
          typed_extension_protocol_options: httpOptions({
            explicit_http_config: { http2_protocol_options: { hpack_table_size: 0, connection_keepalive: {} } },
          }),
        }),
      [
        [`${key}.http2_protocol_options.hpack_table_size`, '"hpack_table_size" is not supported yet'],
        [`${key}.http2_protocol_options.connection_keepalive`, '"connection_keepalive" is not supported yet'],
      ],
    );
    assertIssues(
      () =>
        cluster({
          typed_extension_protocol_options: httpOptions({
            explicit_http_config: { http_protocol_options: { header_key_format: {}, accept_http_10: true } },
          }),
        }),
      [[`${key}.http_protocol_options.header_key_format`, '"header_key_format" is not supported yet']],
    );
    assertIssues(
      () => cluster({ http_protocol_options: { send_fully_qualified_url: true } }),
      [["http_protocol_options.send_fully_qualified_url", '"send_fully_qualified_url" is not supported yet']],
    );
  });

  test("max_connection_duration and max_concurrent_streams: set only when configured", () => {
    const h2 = cluster({
      typed_extension_protocol_options: httpOptions({
        common_http_protocol_options: { max_connection_duration: "90s" },
        explicit_http_config: {
          http2_protocol_options: { max_concurrent_streams: { value: 2 }, initial_stream_window_size: 65_536 },
        },
      }),
    });
    assert.equal(h2.maxConnectionDurationMs, 90_000);
    assert.equal(h2.http2MaxConcurrentStreams, 2);
    assert.equal(h2.useDownstreamProtocol, undefined);
    const plain = cluster({
      typed_extension_protocol_options: httpOptions({ explicit_http_config: { http2_protocol_options: {} } }),
    });
    assert.equal("maxConnectionDurationMs" in plain, false);
    assert.equal("http2MaxConcurrentStreams" in plain, false);
    // 0 means no limit, as for idle_timeout.
    assert.equal(
      cluster({ common_http_protocol_options: { max_connection_duration: "0s" } }).maxConnectionDurationMs,
      undefined,
    );
    assert.equal(cluster({ http2_protocol_options: { maxConcurrentStreams: 7 } }).http2MaxConcurrentStreams, 7);
  });

  test("use_downstream_protocol_config: the upstream protocol follows the downstream's", () => {
    const c = cluster({
      typed_extension_protocol_options: httpOptions({
        use_downstream_protocol_config: {
          http_protocol_options: {},
          http2_protocol_options: { max_concurrent_streams: 50 },
        },
      }),
    });
    assert.equal(c.useDownstreamProtocol, true);
    assert.equal(c.http2, false);
    assert.equal(c.http2MaxConcurrentStreams, 50);
    const camel = cluster({
      typedExtensionProtocolOptions: httpOptions({ useDownstreamProtocolConfig: { httpProtocolOptions: {} } }),
    });
    assert.equal(camel.useDownstreamProtocol, true);
    assert.equal(camel.http2MaxConcurrentStreams, undefined);
  });

  test("upstream_connection_options.tcp_keepalive", () => {
    assert.equal(cluster().tcpKeepalive, undefined);
    assert.equal(cluster({ upstream_connection_options: {} }).tcpKeepalive, undefined);
    assert.deepEqual(cluster({ upstream_connection_options: { tcp_keepalive: {} } }).tcpKeepalive, {});
    assert.deepEqual(
      cluster({
        upstreamConnectionOptions: {
          tcpKeepalive: { keepaliveProbes: 3, keepaliveTime: { value: 60 }, keepaliveInterval: "10" },
        },
      }).tcpKeepalive,
      { probes: 3, timeS: 60, intervalS: 10 },
    );
  });

  test("the deprecated cluster-level protocol fields", () => {
    assert.equal(cluster({ http2_protocol_options: {} }).http2, true);
    assert.equal(cluster({ http_protocol_options: {} }).http2, false);
    const old = cluster({ common_http_protocol_options: { idle_timeout: "5s", max_requests_per_connection: 9 } });
    assert.equal(old.upstreamIdleTimeoutMs, 5_000);
    assert.equal(old.maxRequestsPerConnection, 9);
    assert.equal(cluster({ max_requests_per_connection: { value: 7 } }).maxRequestsPerConnection, 7);
  });

  test("transport_socket: raw_buffer and TLS (UpstreamTlsContext) are read, anything else refused with the field path", () => {
    assert.equal(cluster({ transport_socket: { name: "envoy.transport_sockets.raw_buffer" } }).tls, undefined);
    assert.equal(
      cluster({
        transportSocket: {
          name: "x",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer" },
        },
      }).tls,
      undefined,
    );
    const tls = cluster({
      transport_socket: {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
          sni: "backend.example.com",
          common_tls_context: {
            validation_context: {
              trusted_ca: { inline_string: "ca" },
              match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: "backend.example.com" } }],
            },
            alpn_protocols: ["h2"],
          },
        },
      },
    }).tls;
    assert.equal(tls?.sni, "backend.example.com");
    assert.deepEqual(tls?.common.alpnProtocols, ["h2"]);
    assert.deepEqual(tls?.common.validation?.sanMatchers, [
      { sanType: "DNS", matcher: { kind: "exact", value: "backend.example.com", ignoreCase: false } },
    ]);
    assertIssues(
      () =>
        cluster({
          transport_socket: {
            name: "envoy.transport_sockets.tls",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            },
          },
        }),
      [["transport_socket", /DownstreamTlsContext is not supported \(a cluster takes .*UpstreamTlsContext\)/]],
    );
    assertIssues(
      () => cluster({ transport_socket: { name: "envoy.transport_sockets.alts" } }),
      [
        [
          "transport_socket",
          /"envoy.transport_sockets.alts" is not supported \(only .*raw_buffer and .*tls are supported\)/,
        ],
      ],
    );
  });

  test("fields with an effect not implemented are refused; track_cluster_stats (extra stats) is accepted", () => {
    assert.equal(cluster({ track_cluster_stats: { timeout_budgets: true } }).name, "c");
    assertIssues(
      () =>
        cluster({
          transport_socket_matches: [],
          per_connection_buffer_limit_bytes: 1024,
          lb_subset_config: {},
          close_connections_on_host_health_failure: true,
          ignore_health_on_host_removal: true,
        }),
      [
        ["transport_socket_matches", '"transport_socket_matches" is not supported yet'],
        ["per_connection_buffer_limit_bytes", '"per_connection_buffer_limit_bytes" is not supported yet'],
        ["lb_subset_config", '"lb_subset_config" is not supported yet'],
        ["close_connections_on_host_health_failure", '"close_connections_on_host_health_failure" is not supported yet'],
        ["ignore_health_on_host_removal", '"ignore_health_on_host_removal" is not supported yet'],
      ],
    );
  });

  test("enum values are case-insensitive, as Envoy parses them", () => {
    const c = parseCluster({ ...(withEndpoints("strict_dns", "localhost") as object), lb_policy: "least_request" });
    assert.equal(c.type, "STRICT_DNS");
    assert.equal(c.lbPolicy, "LEAST_REQUEST");
    assert.equal(cluster({ dns_lookup_family: "v4_only" }).dnsLookupFamily, "V4_ONLY");
    assertIssues(
      () => cluster({ lb_policy: "original_dst_lb" }),
      [["lb_policy", "ORIGINAL_DST_LB is not supported yet"]],
    );
  });

  test("STATIC endpoints must be IP literals; STRICT_DNS may name hosts", () => {
    assert.deepEqual(
      parseCluster(withEndpoints("STATIC", "10.0.0.1", "::1")).loadAssignment?.endpoints[0].lbEndpoints.map(
        (e) => e.address,
      ),
      [
        { address: "10.0.0.1", port: 80 },
        { address: "::1", port: 80 },
      ],
    );
    assert.equal(
      parseCluster(withEndpoints("STRICT_DNS", "backend.svc.local")).loadAssignment?.endpoints[0].lbEndpoints[0].address
        .address,
      "backend.svc.local",
    );
    const at = "load_assignment.endpoints[0].lb_endpoints";
    assertIssues(
      () => parseCluster(withEndpoints("STATIC", "backend.svc.local", "[::1]")),
      [
        [`${at}[0].endpoint.address.socket_address.address`, 'expected an IP address, got "backend.svc.local"'],
        [`${at}[1].endpoint.address.socket_address.address`, 'expected an IP address, got "[::1]"'],
      ],
    );
    assertIssues(
      () => parseCluster(withEndpoints("STRICT_DNS", "bad_host!")),
      [[`${at}[0].endpoint.address.socket_address.address`, 'expected an IP address or a host name, got "bad_host!"']],
    );
  });

  test("errors", () => {
    assertIssues(
      () =>
        parseCluster({
          type: "logical_dns",
          lb_policy: "CLUSTER_PROVIDED",
          connect_timeout: "0s",
          dns_refresh_rate: "soon",
          dns_lookup_family: "V5_ONLY",
          least_request_lb_config: { choice_count: 1 },
          ring_hash_lb_config: { minimum_ring_size: 9000, maximum_ring_size: 8000 },
          maglev_lb_config: { table_size: 65536 },
          hosts: [],
          upstream_bind_config: {},
        }),
      [
        ["hosts", 'unknown field "hosts"'],
        ["upstream_bind_config", '"upstream_bind_config" is not supported yet'],
        ["name", "required"],
        ["connect_timeout", "expected a duration greater than 0"],
        ["lb_policy", "CLUSTER_PROVIDED is not supported yet"],
        ["least_request_lb_config.choice_count", "expected an integer 2-4294967295, got 1"],
        ["ring_hash_lb_config.minimum_ring_size", "is 9000, more than maximum_ring_size 8000"],
        ["maglev_lb_config.table_size", "expected a prime number, got 65536"],
        ["dns_refresh_rate", 'expected a duration like "1.5s" or {seconds, nanos}, got "soon"'],
        ["dns_lookup_family", 'expected one of AUTO, V4_ONLY, V6_ONLY, V4_PREFERRED, ALL, got "V5_ONLY"'],
        ["load_assignment", "required"],
      ],
    );
    assertIssues(
      () =>
        cluster({
          type: "ORIGINAL_DST",
          lb_policy: "LOAD_BALANCING_POLICY_CONFIG",
          ring_hash_lb_config: { maximum_ring_size: 8_388_609 },
        }),
      [
        [
          "lb_policy",
          'a cluster of type ORIGINAL_DST takes lb_policy CLUSTER_PROVIDED, got "LOAD_BALANCING_POLICY_CONFIG"',
        ],
        ["ring_hash_lb_config.maximum_ring_size", "expected an integer 1-8388608, got 8388609"],
      ],
    );
  });

  test("protocol option errors", () => {
    const key = `typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_KEY}"]`;
    assertIssues(
      () =>
        cluster({
          http2_protocol_options: {},
          typed_extension_protocol_options: {
            ...httpOptions({ explicit_http_config: { http3_protocol_options: {} }, auto_config: {} }),
            "envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions": {},
          },
        }),
      [
        [`${key}.auto_config`, '"auto_config" is not supported yet'],
        [`${key}.explicit_http_config.http3_protocol_options`, '"http3_protocol_options" is not supported yet'],
        [`${key}.explicit_http_config`, "one of http_protocol_options, http2_protocol_options is required"],
        [
          'typed_extension_protocol_options["envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions"]',
          'protocol options "envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions" are not supported yet',
        ],
        ["http2_protocol_options", "cannot be combined with envoy.extensions.upstreams.http.v3.HttpProtocolOptions"],
      ],
    );
    assertIssues(
      () =>
        cluster({
          typed_extension_protocol_options: {
            [HTTP_PROTOCOL_OPTIONS_KEY]: {
              "@type": "type.googleapis.com/wrong",
              explicit_http_config: { http_protocol_options: {} },
            },
          },
        }),
      [[`${key}.@type`, `expected ${HTTP_PROTOCOL_OPTIONS_TYPE_URL}, got "type.googleapis.com/wrong"`]],
    );
    assertIssues(
      () => cluster({ http_protocol_options: {}, http2_protocol_options: {} }),
      [
        [
          "",
          "only one of http_protocol_options, http2_protocol_options may be set, got http_protocol_options and http2_protocol_options",
        ],
      ],
    );
  });

  test("errors in the new connection options name the field and what was expected", () => {
    const key = `typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS_KEY}"]`;
    assertIssues(
      () =>
        cluster({
          typed_extension_protocol_options: httpOptions({
            common_http_protocol_options: { max_connection_duration: "forever" },
            explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 0, window: 1 } },
          }),
          upstream_connection_options: {
            tcp_keepalive: { keepalive_probes: 128, keepalive_time: 0, keepalive_interval: 40_000 },
            happy_eyeballs_config: {},
          },
        }),
      [
        [`${key}.common_http_protocol_options.max_connection_duration`, /^expected a duration/],
        [`${key}.explicit_http_config.http2_protocol_options.window`, 'unknown field "window"'],
        [
          `${key}.explicit_http_config.http2_protocol_options.max_concurrent_streams`,
          "expected an integer 1-2147483647, got 0",
        ],
        ["upstream_connection_options.happy_eyeballs_config", '"happy_eyeballs_config" is not supported yet'],
        ["upstream_connection_options.tcp_keepalive.keepalive_probes", "expected an integer 1-127, got 128"],
        ["upstream_connection_options.tcp_keepalive.keepalive_time", "expected an integer 1-32767, got 0"],
        ["upstream_connection_options.tcp_keepalive.keepalive_interval", "expected an integer 1-32767, got 40000"],
      ],
    );
    assertIssues(
      () =>
        cluster({
          typed_extension_protocol_options: httpOptions({
            explicit_http_config: { http_protocol_options: {} },
            use_downstream_protocol_config: {},
          }),
        }),
      [
        [
          key,
          "only one of explicit_http_config, use_downstream_protocol_config may be set, got explicit_http_config and use_downstream_protocol_config",
        ],
      ],
    );
    assertIssues(
      () =>
        cluster({
          typed_extension_protocol_options: httpOptions({
            use_downstream_protocol_config: { http3_protocol_options: {} },
          }),
        }),
      [
        [
          `${key}.use_downstream_protocol_config.http3_protocol_options`,
          '"http3_protocol_options" is not supported yet',
        ],
      ],
    );
    assertIssues(
      () =>
        cluster({
          typed_extension_protocol_options: httpOptions({}),
          upstream_connection_options: { tcp_keepalive: 5 },
        }),
      [
        [key, "one of explicit_http_config, use_downstream_protocol_config is required"],
        ["upstream_connection_options.tcp_keepalive", "expected an object, got 5"],
      ],
    );
  });

  test("the ConfigError names the cluster, or the path given", () => {
    assert.throws(
      () => parseCluster({ name: "db", type: "NOPE" }),
      (error: ConfigError) =>
        error.source === "cluster db" && error.issues.length === 1 && error.issues[0].path === "type",
    );
    assert.throws(
      () => parseCluster({ type: "NOPE" }, "cds[1]"),
      (error: ConfigError) => error.source === "cds[1]" && error.issues[1].path === "cds[1].type",
    );
  });
});

describe("EDS clusters", () => {
  test("eds_cluster_config over ADS: the service name, or the cluster's own name", () => {
    const eds = { type: "EDS", eds_cluster_config: { service_name: "outbound|80||a", eds_config: { ads: {} } } };
    assert.equal(parseCluster({ name: "c", ...eds }).edsServiceName, "outbound|80||a");
    assert.equal(parseCluster({ name: "c", type: "EDS" }).edsServiceName, "c");
    assert.equal(parseCluster({ name: "c", type: "STATIC" }).edsServiceName, undefined);
  });

  test("another config source, or eds_cluster_config on a non-EDS cluster, is refused", () => {
    assert.throws(
      () => parseCluster({ name: "c", type: "EDS", eds_cluster_config: { eds_config: { api_config_source: {} } } }),
      /eds_cluster_config\.eds_config\.ads: required: Trellis fetches endpoints over ADS only/,
    );
    assert.throws(
      () => parseCluster({ name: "c", type: "STATIC", eds_cluster_config: {} }),
      /eds_cluster_config: only for type EDS, not STATIC/,
    );
  });
});

describe("ORIGINAL_DST clusters", () => {
  test("type ORIGINAL_DST with lb_policy CLUSTER_PROVIDED (or none): Envoy's defaults", () => {
    const c = cluster({ type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED" });
    assert.equal(c.type, "ORIGINAL_DST");
    assert.deepEqual(c.originalDst, { useHttpHeader: false, httpHeaderName: "", cleanupIntervalMs: 5000 });
    assert.equal(c.loadAssignment, undefined);
    assert.equal(cluster({ type: "original_dst" }).type, "ORIGINAL_DST");
    assert.equal(cluster({ type: 4, lb_policy: 6 }).type, "ORIGINAL_DST");
    assert.equal(cluster().originalDst, undefined);
  });

  test("original_dst_lb_config and cleanup_interval", () => {
    const c = cluster({
      type: "ORIGINAL_DST",
      cleanup_interval: "30s",
      original_dst_lb_config: {
        use_http_header: true,
        http_header_name: "X-Dst",
        upstream_port_override: { value: 9090 },
      },
    });
    assert.deepEqual(c.originalDst, {
      useHttpHeader: true,
      httpHeaderName: "x-dst",
      upstreamPortOverride: 9090,
      cleanupIntervalMs: 30_000,
    });
  });

  test("errors: another lb_policy, a load_assignment, the config on another type, metadata_key, bad values", () => {
    assertIssues(
      () =>
        cluster({
          type: "ORIGINAL_DST",
          lb_policy: "ROUND_ROBIN",
          load_assignment: { cluster_name: "c", endpoints: [{ lb_endpoints: [endpoint("10.0.0.1")] }] },
          cleanup_interval: "0s",
          original_dst_lb_config: { upstream_port_override: 70000, metadata_key: { key: "k" } },
        }),
      [
        ["lb_policy", 'a cluster of type ORIGINAL_DST takes lb_policy CLUSTER_PROVIDED, got "ROUND_ROBIN"'],
        [
          "load_assignment",
          "a cluster of type ORIGINAL_DST takes its hosts from the connections, not from load_assignment",
        ],
        ["original_dst_lb_config.metadata_key", '"metadata_key" is not supported yet'],
        ["original_dst_lb_config.upstream_port_override", /expected an integer 1-65535/],
        ["cleanup_interval", "expected a duration greater than 0"],
      ],
    );
    assertIssues(
      () => cluster({ type: "STATIC", original_dst_lb_config: {} }),
      [["original_dst_lb_config", "only for type ORIGINAL_DST, not STATIC"]],
    );
  });
});
