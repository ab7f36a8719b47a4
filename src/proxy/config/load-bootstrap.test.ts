import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertIssues } from "../../api/xds/parse/testing.ts";
import type { HttpConnectionManager } from "../../api/xds/types.ts";
import { loadBootstrap } from "./load-bootstrap.ts";

const HCM_TYPE =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";

/** An Envoy-example-style HTTP listener (unnamed unless `name`), its connection manager extended by `hcm`. */
function listener(port: number, hcm: string, name = ""): string {
  return `
    - ${name === "" ? "" : `name: ${name}\n      `}address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": ${HCM_TYPE}
                stat_prefix: ingress_http
                codec_type: auto
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes: [{ match: { prefix: / }, route: { cluster: service } }]
${hcm}`;
}

const CLUSTER = `
  clusters:
    - name: service
      type: strict_dns
      lb_policy: round_robin
      load_assignment:
        cluster_name: service
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: localhost, port_value: 8080 } } } }] }]
`;

const L = "static_resources.listeners";
const HCM0 = `${L}[0].filter_chains[0].filters[0].typed_config`;

describe("loadBootstrap", () => {
  test("Envoy's example spellings: unnamed listeners, lower-case enums, the router's typed_config: {}", () => {
    const router = `                http_filters:\n                  - name: envoy.filters.http.router\n                    typed_config: {}\n`;
    const text = `static_resources:\n  listeners:${listener(10000, router)}${listener(0, router)}${listener(0, router)}${CLUSTER}`;
    const bootstrap = loadBootstrap(text, "front.yaml");
    const names = bootstrap.staticResources.listeners.map((l) => l.name);
    assert.deepEqual(names, ["127.0.0.1_10000", "127.0.0.1_0", "127.0.0.1_0_2"]);
    const cluster = bootstrap.staticResources.clusters[0]!;
    assert.equal(cluster.type, "STRICT_DNS");
    assert.equal(cluster.lbPolicy, "ROUND_ROBIN");
    const hcm = bootstrap.staticResources.listeners[0]!.filterChains[0]!.filters[0]!.config as HttpConnectionManager;
    assert.equal(hcm.codecType, "AUTO");
    assert.deepEqual(hcm.httpFilters, []);
  });

  test("a listener named after the address another listener chose keeps its name; the unnamed one moves aside", () => {
    const text = `static_resources:\n  listeners:${listener(0, "")}${listener(0, "", "127.0.0.1_0")}${CLUSTER}`;
    assert.deepEqual(
      loadBootstrap(text, "b.yaml").staticResources.listeners.map((l) => l.name),
      ["127.0.0.1_0_0", "127.0.0.1_0"],
    );
  });

  test("field errors and build errors in one pass, each at its path, each once", () => {
    const badFilters = `                access_log:
                  - name: envoy.access_loggers.file
                    typed_config: { "@type": type.googleapis.com/no.such.Logger }
                http_filters:
                  - name: envoy.filters.http.ext_authz
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz }
                  - name: envoy.filters.http.fault
                    typed_config: { "@type": ${FAULT_TYPE}, abort: { http_status: 99, percentage: { numerator: 100 } } }
                  - name: envoy.filters.http.router
`;
    const text = `
static_resources:
  listeners:${listener(0, badFilters, "front")}${listener(0, "                bogus_field: 1\n", "second")}
  clusters:
    - name: service
      type: logical_dns_typo
      connect_timeout: 0.25s
`;
    assertIssues(
      () => loadBootstrap(text, "bad.yaml"),
      [
        [`${L}[1].filter_chains[0].filters[0].typed_config.bogus_field`, 'unknown field "bogus_field"'],
        [
          "static_resources.clusters[0].type",
          /expected one of STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST, got "logical_dns_typo"/,
        ],
        [`${HCM0}.access_log[0].typed_config.@type`, /unsupported access logger .*no\.such\.Logger/],
        [`${HCM0}.http_filters[0]`, /filter "envoy.filters.http.ext_authz" .* is not supported by this proxy/],
        [`${HCM0}.http_filters[1].typed_config`, /http_status/],
      ],
    );
  });

  test("a per-route filter configuration the filter refuses is reported at the route, with the file's path", () => {
    const perRoute = `                http_filters:
                  - name: envoy.filters.http.fault
                    typed_config: { "@type": ${FAULT_TYPE} }
`;
    const text = `static_resources:\n  listeners:${listener(0, perRoute)}${CLUSTER}`.replace(
      "route: { cluster: service } }",
      `route: { cluster: service }, typed_per_filter_config: { envoy.filters.http.fault: { "@type": ${FAULT_TYPE}, delay: { fixed_delay: forever } } } }`,
    );
    assertIssues(
      () => loadBootstrap(text, "b.yaml"),
      [[`${HCM0}.route_config.virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.fault`, /delay/]],
    );
  });

  test("stats_sinks is refused: no sink would receive anything", () => {
    const base = `static_resources:\n  listeners:${listener(0, "")}${CLUSTER}`;
    assertIssues(
      () => loadBootstrap(`${base}stats_sinks: [{ name: envoy.stat_sinks.statsd }]\n`, "b.yaml"),
      [["stats_sinks", '"stats_sinks" is not supported yet']],
    );
  });

  test("layered_runtime: the empty forms of Envoy's examples pass; runtime keys are refused, each at its path", () => {
    const base = `static_resources:\n  listeners:${listener(0, "")}${CLUSTER}`;
    loadBootstrap(`${base}layered_runtime: {}\n`, "b.yaml");
    loadBootstrap(
      `${base}layered_runtime:\n  layers:\n    - name: static_layer_0\n      static_layer: {}\n    - name: admin\n      admin_layer: {}\n`,
      "b.yaml",
    );
    assertIssues(
      () =>
        loadBootstrap(
          `${base}layered_runtime:
  layers:
    - name: static_layer_0
      static_layer:
        overload: { global_downstream_max_connections: 50000 }
    - name: disk
      disk_layer: { symlink_root: /srv/runtime }
`,
          "b.yaml",
        ),
      [
        ["layered_runtime.layers[0].static_layer.overload", /runtime keys are not supported yet/],
        ["layered_runtime.layers[1].disk_layer", '"disk_layer" is not supported yet'],
      ],
    );
  });
});
