import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCluster, parseListener } from "../parse/index.ts";
import { NAME_TABLE_TYPE_URL, TYPE_URL, decodeResource, encodeResource } from "./codec.ts";

const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

const listener = {
  name: "http",
  address: { socket_address: { address: "127.0.0.1", port_value: 8080 } },
  filter_chains: [
    {
      filters: [
        {
          name: "envoy.filters.network.http_connection_manager",
          typed_config: {
            "@type": HCM,
            stat_prefix: "in",
            codec_type: "AUTO",
            stream_idle_timeout: "1.5s",
            http_filters: [
              {
                name: "envoy.filters.http.fault",
                typed_config: {
                  "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
                  abort: { http_status: 503, percentage: { numerator: 10, denominator: "HUNDRED" } },
                },
              },
            ],
            route_config: {
              name: "local",
              virtual_hosts: [
                {
                  name: "all",
                  domains: ["*"],
                  routes: [
                    {
                      match: { prefix: "/" },
                      route: {
                        cluster: "app",
                        timeout: "0.250s",
                        retry_policy: { retry_on: "5xx", num_retries: 3 },
                      },
                    },
                  ],
                },
              ],
            },
          },
        },
      ],
    },
  ],
};

test("a listener survives encode → decode and parses to the same typed configuration", () => {
  const any = encodeResource(TYPE_URL.listener, listener);
  assert.equal(any.type_url, TYPE_URL.listener);
  const decoded = decodeResource(any);
  assert.deepEqual(parseListener(decoded), parseListener(listener));
});

test("a cluster with wrappers, durations and enums round-trips", () => {
  const cluster = {
    name: "app",
    type: "STATIC",
    connect_timeout: "1s",
    lb_policy: "LEAST_REQUEST",
    common_lb_config: { healthy_panic_threshold: { value: 40 } },
    circuit_breakers: { thresholds: [{ max_connections: 10, max_retries: 2 }] },
    outlier_detection: { consecutive_5xx: 3, interval: "10s" },
    load_assignment: {
      cluster_name: "app",
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: 80 } } } }] },
      ],
    },
  };
  const decoded = decodeResource(encodeResource(TYPE_URL.cluster, cluster));
  assert.deepEqual(parseCluster(decoded), parseCluster(cluster));
  assert.equal(decoded.connect_timeout, "1s");
});

test("a Struct (an access log's json_format) keeps its strings, numbers, booleans, lists and nested objects", () => {
  const jsonFormat = { code: "%RESPONSE_CODE%", n: 2, on: true, list: ["a", 1], nested: { path: "%REQ(:PATH)%" } };
  const withLog = structuredClone(listener);
  const chain = withLog.filter_chains[0]!.filters[0]!.typed_config as Record<string, unknown>;
  chain.access_log = [
    {
      name: "envoy.access_loggers.file",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
        path: "/dev/stdout",
        log_format: { json_format: jsonFormat },
      },
    },
  ];
  const decoded = decodeResource(encodeResource(TYPE_URL.listener, withLog));
  const hcm = (decoded.filter_chains as { filters: { typed_config: Record<string, unknown> }[] }[])[0]!.filters[0]!;
  const log = (hcm.typed_config.access_log as { typed_config: { log_format: unknown } }[])[0]!;
  assert.deepEqual(log.typed_config.log_format, { json_format: jsonFormat });
});

test("an unknown resource type, an unknown nested type or bytes that are not the type are WireCodecErrors", () => {
  assert.throws(() => encodeResource("type.googleapis.com/nope.Nope", {}), { code: "TRELLIS_XDS_CODEC" });
  const filter = { name: "x", typed_config: { "@type": "type.googleapis.com/nope.Nope" } };
  assert.throws(() => encodeResource(TYPE_URL.listener, { name: "l", filter_chains: [{ filters: [filter] }] }), {
    code: "TRELLIS_XDS_CODEC",
  });
  assert.throws(() => decodeResource({ type_url: TYPE_URL.cluster, value: Buffer.from([0x0a, 0xff, 0xff]) }), {
    code: "TRELLIS_XDS_CODEC",
  });
});

test("Istio's NameTable (NDS) round-trips: map of NameInfo with ips, registry, shortname, namespace, alt_hosts", () => {
  const table = {
    table: {
      "meeting.default.svc.cluster.local": {
        ips: ["240.240.3.7", "2001:db8::7"],
        registry: "Kubernetes",
        shortname: "meeting",
        namespace: "default",
      },
      "*.example.org": { ips: ["240.240.9.1"], alt_hosts: ["example.org"] },
    },
  };
  const any = encodeResource(NAME_TABLE_TYPE_URL, table);
  assert.equal(any.type_url, "type.googleapis.com/istio.networking.nds.v1.NameTable");
  assert.ok(any.value.length > 0);
  assert.deepEqual(decodeResource(any), table);
});

test("a listener filter's filter_disabled survives the wire (every predicate form, a zero start omitted)", () => {
  const withPredicate = {
    ...listener,
    listener_filters: [
      {
        name: "envoy.filters.listener.http_inspector",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
        },
        filter_disabled: {
          or_match: {
            rules: [
              { destination_port_range: { start: 0, end: 80 } },
              {
                and_match: {
                  rules: [{ not_match: { destination_port_range: { start: 9000, end: 9001 } } }, { any_match: true }],
                },
              },
            ],
          },
        },
      },
    ],
  };
  const decoded = decodeResource(encodeResource(TYPE_URL.listener, withPredicate));
  const parsed = parseListener(decoded);
  assert.deepEqual(parsed, parseListener(withPredicate));
  assert.deepEqual(parsed.listenerFilters[0]!.disabled, {
    kind: "or",
    rules: [
      { kind: "destination_port_range", start: 0, end: 80 },
      {
        kind: "and",
        rules: [{ kind: "not", rule: { kind: "destination_port_range", start: 9000, end: 9001 } }, { kind: "any" }],
      },
    ],
  });
});
