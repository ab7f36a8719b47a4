// Run inside a capture test's network namespace under the sidecar's gid (capture-netns.test.ts): a real Trellis
// proxy with the listeners Istio gives a sidecar in REDIRECT mode, and the servers behind them.
//   virtualOutbound  0.0.0.0:15001, use_original_dst, original_dst listener filter; a chain for prefix_ranges
//                    10.252.0.0/16 (tcp_proxy to "ranged"); default chain → PassthroughCluster (ORIGINAL_DST)
//   240.240.0.5_6379 bind_to_port: false, tcp_proxy → "redis" (STATIC)
//   0.0.0.0_8080     bind_to_port: false, HTTP: host "meeting", "meeting:8080", "240.240.3.7:8080" → "meeting"
//   virtualInbound   0.0.0.0:15006, original_dst listener filter; destination_port 9080 → "inbound|9080||"
//                    (127.0.0.1:9080); default chain → InboundPassthroughCluster (ORIGINAL_DST)
// The application's inbound servers on 0.0.0.0:9080 (declared) and 0.0.0.0:9191 (not declared) answer
// "<name> saw <peer address>|<bytes received>".
// Servers: redis, ranged, dynamic (127.0.0.1, port 0) answer "<name>|<bytes received>" once the client half-closes;
// meeting (HTTP, 127.0.0.1) answers "meeting <method> <path> host=<host>"; "outside" on --outside ADDRESS:7777 and
// "outside9" on --outside9 ADDRESS:5432, the passthrough's destinations, answer like the TCP ones.
//   stdout: {"ready":true}; stdin commands, one answer line each:
//     "add"    LDS: a bind_to_port: false listener at <outside9>:5432 → "dynamic"  → {"version":N}
//     "remove" LDS: no dynamic listener                                           → {"version":N}
//     "stats"  → {"<name>{k=v,…}": value, …} for the families the test reads
import http from "node:http";
import net from "node:net";
import readline from "node:readline";
import { parseBootstrap } from "../../src/api/bootstrap.ts";
import { TYPE_URL } from "../../src/api/xds/wire/codec.ts";
import { Proxy } from "../../src/proxy/server.ts";
import { bootstrap, socketAddress, staticCluster, type Raw } from "./envoy-config.ts";
import { namedServer, tcpChain } from "./capture.ts";

const arg = (name: string): string => process.argv[process.argv.indexOf(name) + 1]!;
const outside = arg("--outside");
const outside9 = arg("--outside9");

const [redis, ranged, dynamic] = await Promise.all([
  namedServer("redis"),
  namedServer("ranged"),
  namedServer("dynamic"),
]);
await Promise.all([namedServer("outside", outside, 7777), namedServer("outside9", outside9, 5432)]);
function inboundServer(name: string, port: number): Promise<void> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => s.end(Buffer.concat([Buffer.from(`${name} saw ${s.remoteAddress}|`), ...chunks])));
  });
  return new Promise((resolve) => server.listen(port, "0.0.0.0", resolve));
}
await Promise.all([inboundServer("app", 9080), inboundServer("undeclared", 9191)]);

const meeting = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => res.end(`meeting ${req.method} ${req.url} host=${req.headers.host}`));
});
await new Promise<void>((resolve) => meeting.listen(0, "127.0.0.1", resolve));
const meetingPort = (meeting.address() as net.AddressInfo).port;

const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const http8080: Raw = {
  name: "0.0.0.0_8080",
  address: socketAddress(8080, "0.0.0.0"),
  bind_to_port: false,
  filter_chains: [
    {
      filters: [
        {
          name: "envoy.filters.network.http_connection_manager",
          typed_config: {
            "@type": HCM,
            stat_prefix: "outbound_0.0.0.0_8080",
            route_config: {
              name: "8080",
              virtual_hosts: [
                {
                  name: "meeting.default.svc.cluster.local:8080",
                  domains: ["meeting", "meeting:8080", "240.240.3.7", "240.240.3.7:8080"],
                  routes: [{ match: { prefix: "/" }, route: { cluster: "meeting" } }],
                },
              ],
            },
            http_filters: [
              {
                name: "envoy.filters.http.router",
                typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
              },
            ],
          },
        },
      ],
    },
  ],
};
const raw = bootstrap(
  [
    {
      name: "virtualOutbound",
      address: socketAddress(15001, "0.0.0.0"),
      use_original_dst: true,
      listener_filters: [{ name: "envoy.filters.listener.original_dst" }],
      filter_chains: [tcpChain("ranged", { prefix_ranges: [{ address_prefix: "10.252.0.0", prefix_len: 16 }] })],
      default_filter_chain: tcpChain("PassthroughCluster"),
    },
    {
      name: "240.240.0.5_6379",
      address: socketAddress(6379, "240.240.0.5"),
      bind_to_port: false,
      filter_chains: [tcpChain("redis")],
    },
    http8080,
    {
      name: "virtualInbound",
      address: socketAddress(15006, "0.0.0.0"),
      listener_filters: [{ name: "envoy.filters.listener.original_dst" }],
      filter_chains: [tcpChain("inbound|9080||", { destination_port: 9080 })],
      default_filter_chain: tcpChain("InboundPassthroughCluster"),
    },
  ],
  [
    staticCluster("redis", [redis.port]),
    staticCluster("ranged", [ranged.port]),
    staticCluster("dynamic", [dynamic.port]),
    staticCluster("meeting", [meetingPort]),
    { name: "PassthroughCluster", type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: "2s" },
    staticCluster("inbound|9080||", [9080]),
    { name: "InboundPassthroughCluster", type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED", connect_timeout: "2s" },
  ],
);
const proxy = new Proxy(parseBootstrap(JSON.stringify(raw), "capture sidecar bootstrap"), { log: () => {} });
await proxy.start();
process.stdout.write(`${JSON.stringify({ ready: true, gid: process.getgid?.() })}\n`);

const FAMILIES = [
  "envoy_listener_downstream_cx_total",
  "envoy_cluster_membership_total",
  "envoy_cluster_upstream_cx_none_healthy",
  "trellis_original_dst_loop_refused",
];
let version = 0;
const dynamicListener = {
  name: `${outside9}_5432`,
  address: socketAddress(5432, outside9),
  bind_to_port: false,
  filter_chains: [tcpChain("dynamic")],
};
for await (const line of readline.createInterface({ input: process.stdin })) {
  const command = line.trim();
  if (command === "add" || command === "remove") {
    version++;
    await proxy.applyResources(TYPE_URL.listener, String(version), command === "add" ? [dynamicListener] : []);
    process.stdout.write(`${JSON.stringify({ version })}\n`);
  } else if (command === "stats") {
    const out: Record<string, number> = {};
    for (const s of proxy.stats.toJSON()) {
      if (!FAMILIES.includes(s.name)) continue;
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      out[`${s.name}{${labels}}`] = s.value;
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}
await proxy.shutdown(0);
process.exit(0);
