// Builders for Envoy-v3-shaped bootstrap documents (the same JSON a user writes in YAML), so tests read like the
// configuration users write and go through the real parser.

export type Raw = Record<string, unknown>;

export function socketAddress(port: number, address = "127.0.0.1"): Raw {
  return { socket_address: { address, port_value: port } };
}

export function staticCluster(
  name: string,
  ports: number[] | { port: number; weight?: number }[],
  extra: Raw = {},
): Raw {
  const eps = (ports as (number | { port: number; weight?: number })[]).map((p) =>
    typeof p === "number"
      ? { endpoint: { address: socketAddress(p) } }
      : { endpoint: { address: socketAddress(p.port) }, ...(p.weight ? { load_balancing_weight: p.weight } : {}) },
  );
  return {
    name,
    type: "STATIC",
    connect_timeout: "1s",
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: eps }] },
    ...extra,
  };
}

export const HTTP2_UPSTREAM: Raw = {
  typed_extension_protocol_options: {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
      "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
};

export function httpListener(name: string, routeConfig: Raw, hcmExtra: Raw = {}, port = 0): Raw {
  return {
    name,
    address: socketAddress(port),
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type":
                "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              stat_prefix: name,
              codec_type: "AUTO",
              route_config: routeConfig,
              ...hcmExtra,
            },
          },
        ],
      },
    ],
  };
}

export function tcpListener(name: string, tcpProxy: Raw, port = 0): Raw {
  return {
    name,
    address: socketAddress(port),
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.tcp_proxy",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
              stat_prefix: name,
              ...tcpProxy,
            },
          },
        ],
      },
    ],
  };
}

/** A route config with one virtual host for every domain. */
export function allDomains(routes: Raw[], vhostExtra: Raw = {}, rcExtra: Raw = {}): Raw {
  return { name: "local", virtual_hosts: [{ name: "all", domains: ["*"], routes, ...vhostExtra }], ...rcExtra };
}

export function bootstrap(listeners: Raw[], clusters: Raw[], extra: Raw = {}): Raw {
  return {
    node: { id: "test-node", cluster: "test" },
    admin: { address: socketAddress(0) },
    static_resources: { listeners, clusters },
    ...extra,
  };
}
