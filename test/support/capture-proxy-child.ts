// Run inside a test's network namespace (Netns.spawnNode): a real Trellis proxy whose listener on 127.0.0.1:15001
// (free in a namespace of its own) has the envoy.filters.listener.original_dst listener filter, a filter chain for
// destination_port 8080 (tcp_proxy to server "a") and a default chain (tcp_proxy to server "b"). Each server answers
// one line with its name. The test redirects traffic to 15001 and dials the original addresses.
//   stdout: {"capture":15001}, then for each "stats" line on stdin {"found":N,"notFound":N,"unavailable":N}
import net from "node:net";
import readline from "node:readline";
import { parseBootstrap } from "../../src/api/bootstrap.ts";
import { Proxy } from "../../src/proxy/server.ts";
import { bootstrap, socketAddress, staticCluster } from "./envoy-config.ts";

function server(name: string): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer((socket) => {
      socket.on("error", () => socket.destroy());
      socket.end(`${name}\n`);
    });
    s.listen(0, "127.0.0.1", () => resolve((s.address() as net.AddressInfo).port));
  });
}

const tcp = (cluster: string): unknown => ({
  name: "envoy.filters.network.tcp_proxy",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
    stat_prefix: cluster,
    cluster,
  },
});

const [a, b] = await Promise.all([server("a"), server("b")]);
const raw = bootstrap(
  [
    {
      name: "capture",
      address: socketAddress(15001),
      listener_filters: [{ name: "envoy.filters.listener.original_dst" }],
      filter_chains: [{ filter_chain_match: { destination_port: 8080 }, filters: [tcp("a")] }],
      default_filter_chain: { filters: [tcp("b")] },
    },
  ],
  [staticCluster("a", [a]), staticCluster("b", [b])],
);
const proxy = new Proxy(parseBootstrap(JSON.stringify(raw), "capture bootstrap"), { log: () => {} });
await proxy.start();
process.stdout.write(`${JSON.stringify({ capture: proxy.listenerAddresses().capture!.port })}\n`);

const value = (name: string): number =>
  proxy.stats.toJSON().find((s) => s.name === `trellis_original_dst_${name}`)?.value ?? -1;
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line.trim() !== "stats") continue;
  const stats = { found: value("found"), notFound: value("not_found"), unavailable: value("unavailable") };
  process.stdout.write(`${JSON.stringify(stats)}\n`);
}
await proxy.shutdown(0);
process.exit(0);
