// What the capture translation sends crosses ADS intact: Istio-shaped listeners (use_original_dst, bind_to_port
// false, prefix_ranges, the original_dst and proxy_protocol listener filters) and an ORIGINAL_DST cluster survive
// encode → decode through the protobuf codec, field for field.

import { test } from "node:test";
import assert from "node:assert/strict";
import { TYPE_URL, decodeResource, encodeResource } from "../src/api/xds/wire/codec.ts";
import { parseCluster, parseListener } from "../src/api/xds/parse/index.ts";

const TCP = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const ORIGINAL_DST = "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst";
const PROXY_PROTOCOL = "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol";

const tcp = (cluster: string) => ({
  name: "envoy.filters.network.tcp_proxy",
  typed_config: { "@type": TCP, stat_prefix: cluster, cluster },
});

test("virtualOutbound: use_original_dst, the original_dst listener filter, prefix_ranges, a default chain", () => {
  const listener = {
    name: "virtualOutbound",
    address: { socket_address: { address: "0.0.0.0", port_value: 15001 } },
    use_original_dst: true,
    listener_filters: [{ name: "envoy.filters.listener.original_dst", typed_config: { "@type": ORIGINAL_DST } }],
    filter_chains: [
      {
        filter_chain_match: {
          destination_port: 15001,
          prefix_ranges: [
            { address_prefix: "10.250.0.0", prefix_len: 16 },
            { address_prefix: "fd7e:250::", prefix_len: 64 },
          ],
          source_prefix_ranges: [{ address_prefix: "127.0.0.6", prefix_len: 32 }],
        },
        filters: [tcp("BlackHoleCluster")],
      },
    ],
    default_filter_chain: { filters: [tcp("PassthroughCluster")] },
  };
  const decoded = decodeResource(encodeResource(TYPE_URL.listener, listener));
  assert.deepEqual(decoded, listener);
  const parsed = parseListener(decoded);
  assert.equal(parsed.useOriginalDst, true);
  assert.deepEqual(parsed.listenerFilters, [{ kind: "original_dst", name: "envoy.filters.listener.original_dst" }]);
  assert.deepEqual(parsed.filterChains[0]!.match.prefixRanges, [
    { addressPrefix: "10.250.0.0", prefixLen: 16 },
    { addressPrefix: "fd7e:250::", prefixLen: 64 },
  ]);
});

test("a bind_to_port: false listener and one with the proxy_protocol listener filter", () => {
  const vip = {
    name: "240.240.0.5_6379",
    address: { socket_address: { address: "240.240.0.5", port_value: 6379 } },
    bind_to_port: false,
    filter_chains: [{ filters: [tcp("outbound|6379||redis.default.svc.cluster.local")] }],
  };
  assert.deepEqual(decodeResource(encodeResource(TYPE_URL.listener, vip)), vip);
  assert.equal(parseListener(decodeResource(encodeResource(TYPE_URL.listener, vip))).bindToPort, false);
  const proxied = {
    name: "pp",
    address: { socket_address: { address: "127.0.0.1", port_value: 9000 } },
    listener_filters: [
      {
        name: "envoy.filters.listener.proxy_protocol",
        typed_config: { "@type": PROXY_PROTOCOL, allow_requests_without_proxy_protocol: true },
      },
    ],
    filter_chains: [{ filters: [tcp("app")] }],
  };
  assert.deepEqual(decodeResource(encodeResource(TYPE_URL.listener, proxied)), proxied);
});

test("PassthroughCluster: type ORIGINAL_DST, lb_policy CLUSTER_PROVIDED, original_dst_lb_config, cleanup_interval", () => {
  const cluster = {
    name: "PassthroughCluster",
    type: "ORIGINAL_DST",
    lb_policy: "CLUSTER_PROVIDED",
    connect_timeout: "10s",
    cleanup_interval: "7s",
    original_dst_lb_config: {
      use_http_header: true,
      http_header_name: "x-original-host",
      upstream_port_override: 8080,
    },
  };
  const decoded = decodeResource(encodeResource(TYPE_URL.cluster, cluster));
  assert.deepEqual(decoded, cluster);
  assert.deepEqual(parseCluster(decoded).originalDst, {
    useHttpHeader: true,
    httpHeaderName: "x-original-host",
    upstreamPortOverride: 8080,
    cleanupIntervalMs: 7000,
  });
});
