import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseListener } from "./listener.ts";
import { TCP_PROXY_TYPE_URL } from "./tcp-proxy.ts";
import { TLS_INSPECTOR_TYPE_URL } from "./listener-filters.ts";
import { assertIssues } from "./testing.ts";
import { ANY_CONNECTION } from "./filter-chain-match.ts";

function tcp(cluster: string): unknown {
  return {
    name: "envoy.filters.network.tcp_proxy",
    typed_config: { "@type": TCP_PROXY_TYPE_URL, stat_prefix: cluster, cluster },
  };
}

function listener(extra: Record<string, unknown>): unknown {
  return { name: "sni", address: { socket_address: { address: "127.0.0.1", port_value: 8443 } }, ...extra };
}

const INSPECTOR = { name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": TLS_INSPECTOR_TYPE_URL } };

describe("filter_chain_match, default_filter_chain, listener_filters", () => {
  test("several chains by SNI, transport and ALPN, a default chain, tls_inspector, timeouts", () => {
    const l = parseListener(
      listener({
        listener_filters: [INSPECTOR],
        listenerFiltersTimeout: "2s",
        continue_on_listener_filters_timeout: true,
        filter_chains: [
          { filter_chain_match: { server_names: ["A.example.com", "*.example.org"] }, filters: [tcp("a")] },
          { filterChainMatch: { transportProtocol: "tls", applicationProtocols: ["h2"] }, filters: [tcp("b")] },
          { filter_chain_match: { transport_protocol: "raw_buffer", destination_port: 8443 }, filters: [tcp("c")] },
        ],
        default_filter_chain: { filters: [tcp("d")] },
      }),
    );
    assert.deepEqual(
      l.filterChains.map((c) => c.match),
      [
        {
          destinationPort: undefined,
          serverNames: ["a.example.com", "*.example.org"],
          transportProtocol: "",
          applicationProtocols: [],
          prefixRanges: [],
          sourcePrefixRanges: [],
        },
        { ...ANY_CONNECTION, transportProtocol: "tls", applicationProtocols: ["h2"] },
        { ...ANY_CONNECTION, destinationPort: 8443, transportProtocol: "raw_buffer" },
      ],
    );
    assert.equal(l.defaultFilterChain?.filters[0]?.name, "envoy.filters.network.tcp_proxy");
    assert.deepEqual(l.listenerFilters, [{ kind: "tls_inspector", name: "envoy.filters.listener.tls_inspector" }]);
    assert.equal(l.listenerFiltersTimeoutMs, 2000);
    assert.equal(l.continueOnListenerFiltersTimeout, true);
  });

  test("defaults: no listener filters, 15 s timeout, close at the timeout, no default chain", () => {
    const l = parseListener(listener({ filter_chains: [{ filters: [tcp("a")] }] }));
    assert.deepEqual(l.listenerFilters, []);
    assert.equal(l.listenerFiltersTimeoutMs, 15_000);
    assert.equal(l.continueOnListenerFiltersTimeout, false);
    assert.equal(l.defaultFilterChain, undefined);
    // A default chain alone is a listener too (every connection gets it).
    const only = parseListener(listener({ default_filter_chain: { filters: [tcp("a")] } }));
    assert.deepEqual(only.filterChains, []);
  });

  test("overlapping chains are refused, as Envoy does", () => {
    assertIssues(
      () =>
        parseListener(
          listener({
            filter_chains: [
              { filter_chain_match: { server_names: ["a.example.com", "b.example.com"] }, filters: [tcp("a")] },
              { filter_chain_match: { server_names: ["B.example.com"] }, filters: [tcp("b")] },
              { filters: [tcp("c")] },
              { filter_chain_match: {}, filters: [tcp("d")] },
            ],
          }),
        ),
      [
        [
          "filter_chains[1].filter_chain_match",
          "overlaps filter_chains[0]: a connection matching both could only ever reach one of them",
        ],
        [
          "filter_chains[3].filter_chain_match",
          "overlaps filter_chains[2]: a connection matching both could only ever reach one of them",
        ],
      ],
    );
  });

  test("errors: unsupported criteria, bad names, bad listener filters", () => {
    assertIssues(
      () =>
        parseListener(
          listener({
            listener_filters: [
              {
                name: "x",
                typed_config: {
                  "@type": "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
                },
              },
              {
                name: "envoy.filters.listener.tls_inspector",
                typed_config: { "@type": TLS_INSPECTOR_TYPE_URL, enable_ja3_fingerprinting: true },
              },
              INSPECTOR,
            ],
            listener_filters_timeout: "soon",
            filter_chains: [
              {
                filter_chain_match: {
                  source_ports: [1],
                  server_names: ["*", "", 7],
                  application_protocols: ["", 3],
                  destination_port: 0,
                },
                filters: [tcp("a")],
              },
            ],
          }),
        ),
      [
        ["filter_chains[0].filter_chain_match.source_ports", '"source_ports" is not supported yet'],
        ["filter_chains[0].filter_chain_match.destination_port", /expected an integer 1-65535/],
        [
          "filter_chains[0].filter_chain_match.server_names[0]",
          'expected a host name or a "*.suffix" wildcard, got "*"',
        ],
        [
          "filter_chains[0].filter_chain_match.server_names[1]",
          'expected a host name or a "*.suffix" wildcard, got ""',
        ],
        ["filter_chains[0].filter_chain_match.server_names[2]", "expected a server name, got 7"],
        [
          "filter_chains[0].filter_chain_match.application_protocols[0]",
          'expected a protocol name (e.g. "h2"), got ""',
        ],
        ["filter_chains[0].filter_chain_match.application_protocols[1]", 'expected a protocol name (e.g. "h2"), got 3'],
        [
          "listener_filters[0].typed_config",
          'unknown listener filter "x" (type type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector)',
        ],
        ["listener_filters[1].typed_config.enable_ja3_fingerprinting", "JA3 fingerprinting is not supported yet"],
        ["listener_filters[2]", "envoy.filters.listener.tls_inspector is listed twice"],
        ["listener_filters_timeout", /expected a duration/],
      ],
    );
  });

  test("prefix_ranges and source_prefix_ranges: IPv4 and IPv6 ranges, masked to their prefix", () => {
    const l = parseListener(
      listener({
        filter_chains: [
          {
            filter_chain_match: {
              prefix_ranges: [
                { address_prefix: "10.250.3.7", prefix_len: 16 },
                { address_prefix: "240.240.0.5", prefix_len: { value: 32 } },
                { address_prefix: "fd7e:250::9", prefix_len: 64 },
                { address_prefix: "0.0.0.0" },
              ],
              source_prefix_ranges: [{ address_prefix: "127.0.0.1", prefix_len: 8 }],
            },
            filters: [tcp("a")],
          },
        ],
      }),
    );
    assert.deepEqual(l.filterChains[0]!.match.prefixRanges, [
      { addressPrefix: "10.250.0.0", prefixLen: 16 },
      { addressPrefix: "240.240.0.5", prefixLen: 32 },
      { addressPrefix: "fd7e:250::", prefixLen: 64 },
      { addressPrefix: "0.0.0.0", prefixLen: 0 },
    ]);
    assert.deepEqual(l.filterChains[0]!.match.sourcePrefixRanges, [{ addressPrefix: "127.0.0.0", prefixLen: 8 }]);
  });

  test("prefix_ranges: a bad address or length is refused with its path; chains differing by range do not overlap", () => {
    const ok = parseListener(
      listener({
        filter_chains: [
          {
            filter_chain_match: { prefix_ranges: [{ address_prefix: "10.0.0.0", prefix_len: 8 }] },
            filters: [tcp("a")],
          },
          {
            filter_chain_match: { prefix_ranges: [{ address_prefix: "10.1.0.0", prefix_len: 16 }] },
            filters: [tcp("b")],
          },
          { filters: [tcp("c")] },
        ],
      }),
    );
    assert.equal(ok.filterChains.length, 3);
    assertIssues(
      () =>
        parseListener(
          listener({
            filter_chains: [
              {
                filter_chain_match: {
                  prefix_ranges: [
                    { address_prefix: "meeting", prefix_len: 8 },
                    { address_prefix: "10.0.0.0", prefix_len: 33 },
                    { address_prefix: "fd00::", prefix_len: 129 },
                    { prefix_len: 8 },
                  ],
                  source_prefix_ranges: [{ address_prefix: "10.0.0.0.1" }],
                },
                filters: [tcp("a")],
              },
              {
                filter_chain_match: { prefix_ranges: [{ address_prefix: "10.9.9.9", prefix_len: 8 }] },
                filters: [tcp("b")],
              },
              {
                filter_chain_match: { prefix_ranges: [{ address_prefix: "10.0.0.0", prefix_len: 8 }] },
                filters: [tcp("c")],
              },
            ],
          }),
        ),
      [
        [
          "filter_chains[0].filter_chain_match.prefix_ranges[0].address_prefix",
          'expected an IPv4 or IPv6 address, got "meeting"',
        ],
        ["filter_chains[0].filter_chain_match.prefix_ranges[1].prefix_len", /expected an integer 0-32/],
        ["filter_chains[0].filter_chain_match.prefix_ranges[2].prefix_len", /expected an integer 0-128/],
        ["filter_chains[0].filter_chain_match.prefix_ranges[3].address_prefix", /required/],
        [
          "filter_chains[0].filter_chain_match.source_prefix_ranges[0].address_prefix",
          'expected an IPv4 or IPv6 address, got "10.0.0.0.1"',
        ],
        [
          "filter_chains[2].filter_chain_match",
          "overlaps filter_chains[1]: a connection matching both could only ever reach one of them",
        ],
      ],
    );
  });
});
