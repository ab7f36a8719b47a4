// dynamic_resources in a bootstrap, as Envoy's examples write it: `trellis proxy --bootstrap FILE` (a real process)
// starts its xDS client at the static cluster ads_config names, and serves the listener, routes, clusters and
// endpoints that a real gRPC ADS server (support/fake-ads.ts) sends. Mistakes are refused with their paths.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { edsCluster, loadAssignment, rdsListener, routeConfig } from "../src/control/xds/testing-resources.ts";
import { loadBootstrap } from "../src/proxy/config/load-bootstrap.ts";
import { assertIssues } from "../src/api/xds/parse/testing.ts";
import { FakeAds } from "./support/fake-ads.ts";
import { request } from "./support/clients.ts";
import { startEchoServer } from "./support/upstreams.ts";

const TRELLIS = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));

function bootstrapYaml(adsPort: number, apiType = "GRPC", node = "node: { id: front-proxy, cluster: front }"): string {
  return `
${node}
dynamic_resources:
  ads_config:
    api_type: ${apiType}
    transport_api_version: V3
    grpc_services:
      - envoy_grpc: { cluster_name: xds_cluster }
    set_node_on_first_message_only: true
  lds_config: { resource_api_version: V3, ads: {} }
  cds_config: { resource_api_version: V3, ads: {} }
static_resources:
  clusters:
    - name: xds_cluster
      type: STRICT_DNS
      connect_timeout: 1s
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: { http2_protocol_options: {} }
      load_assignment:
        cluster_name: xds_cluster
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${adsPort} } } } }] }]
`;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function waitUntil(cond: () => Promise<boolean> | boolean, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > limitMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("dynamic_resources", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-dynamic-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

  for (const [apiType, protocol] of [
    ["GRPC", "sotw"],
    ["DELTA_GRPC", "delta"],
  ] as const) {
    test(`ads_config ${apiType} names the control plane's static cluster: read as ${protocol} xDS at its endpoints`, () => {
      const bootstrap = loadBootstrap(bootstrapYaml(18000, apiType.toLowerCase()), "ads.yaml");
      assert.deepEqual(bootstrap.dynamicResources, {
        adsCluster: "xds_cluster",
        servers: ["127.0.0.1:18000"],
        protocol,
      });
      assert.equal(bootstrap.node.id, "front-proxy");
    });
  }

  test("trellis proxy --bootstrap with dynamic_resources serves what the control plane sends", async () => {
    const upstream = await startEchoServer("app");
    const ads = await new FakeAds().start();
    const port = await freePort();
    ads.set(TYPE_URL.listener, "l1", [rdsListener("ingress", port, "local_route")]);
    ads.set(TYPE_URL.routeConfiguration, "r1", [
      routeConfig("local_route", [{ name: "all", domains: ["*"], cluster: "app" }]),
    ]);
    ads.set(TYPE_URL.cluster, "c1", [edsCluster("app")]);
    ads.set(TYPE_URL.clusterLoadAssignment, "e1", [loadAssignment("app", [["127.0.0.1", upstream.port]])]);
    const file = join(dir, "ads.yaml");
    writeFileSync(file, bootstrapYaml(ads.port));
    const child = spawn(process.execPath, [TRELLIS, "proxy", "--bootstrap", file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitUntil(async () => (await request(port).catch(() => undefined))?.status === 200);
      const reply = await request(port, { path: "/hello" });
      assert.equal(reply.status, 200);
      assert.equal(reply.json<{ name: string }>().name, "app");
      assert.equal(ads.requests.find((r) => r.node)?.node?.id, "front-proxy");
      assert.match(stderr, new RegExp(`xds=127\\.0\\.0\\.1:${ads.port}`));
    } finally {
      child.kill("SIGTERM");
      await exited;
      ads.stop();
      await upstream.close();
    }
  });

  test("mistakes are refused with their paths, together with the rest of the file's", () => {
    assertIssues(
      () =>
        loadBootstrap(
          `
dynamic_resources:
  ads_config:
    api_type: REST
    grpc_services: [{ google_grpc: { target_uri: "cp:18000" } }]
  lds_config: { path: /etc/envoy/lds.yaml }
static_resources:
  clusters: [{ name: c, type: EDS }]
`,
          "ads.yaml",
        ),
      [
        ["dynamic_resources.lds_config.path", '"path" is not supported yet'],
        ["dynamic_resources.lds_config.ads", "required: Trellis subscribes to listeners and clusters over ADS only"],
        ["dynamic_resources.cds_config", "required"],
        ["dynamic_resources.ads_config.api_type", "REST is not supported yet"],
        ["dynamic_resources.ads_config.grpc_services[0].google_grpc", '"google_grpc" is not supported yet'],
        ["dynamic_resources.ads_config.grpc_services[0].envoy_grpc", "required"],
      ],
    );
    const text = bootstrapYaml(18000, "GRPC", "").replace("cluster_name: xds_cluster }", "cluster_name: cp }");
    assertIssues(
      () => loadBootstrap(text, "ads.yaml"),
      [
        [
          "dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name",
          'unknown cluster "cp": the control plane\'s cluster must be a static one',
        ],
      ],
    );
    assertIssues(
      () => loadBootstrap(bootstrapYaml(18000, "GRPC", ""), "ads.yaml"),
      [["node", "node.id is required with dynamic_resources: the control plane knows the proxy by it"]],
    );
  });
});
