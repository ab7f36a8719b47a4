// Runs real proxies in the test process: the raw bootstrap goes through the real parser, listeners bind port 0,
// and the helpers report the ports actually bound.

import { parseBootstrap } from "../../src/api/bootstrap.ts";
import type { Clock } from "../../src/api/clock.ts";
import { Proxy } from "../../src/proxy/server.ts";
import { bootstrap, httpListener, allDomains, staticCluster, type Raw } from "./envoy-config.ts";

export interface RunningProxy {
  proxy: Proxy;
  /** Port of the named listener (the first one when omitted). */
  port(listener?: string): number;
  adminPort: number;
  close(): Promise<void>;
}

/** `random`: a seeded generator (mulberry32) for tests that count random decisions (faults, splits, jitter). */
export async function startProxy(raw: Raw, clock?: Clock, random?: () => number): Promise<RunningProxy> {
  const proxy = new Proxy(parseBootstrap(JSON.stringify(raw), "test bootstrap"), { clock, random, log: () => {} });
  await proxy.start();
  const addresses = proxy.listenerAddresses();
  return {
    proxy,
    port: (name) => (name ? addresses[name]! : Object.values(addresses)[0]!).port,
    adminPort: proxy.adminPort ?? 0,
    close: () => proxy.shutdown(0),
  };
}

/**
 * The mesh's 2-hop chain: client sidecar → server sidecar → upstream. `serverCluster` extra fields apply to the
 * server sidecar's cluster (e.g. HTTP/2 upstream); `hopExtra` to the cluster between the two sidecars.
 */
export async function startChain(
  upstreamPort: number,
  options: { serverCluster?: Raw; hopCluster?: Raw; routeExtra?: Raw; hcmExtra?: Raw } = {},
): Promise<{ client: RunningProxy; server: RunningProxy; port: number; close(): Promise<void> }> {
  const route = (cluster: string): Raw[] => [{ match: { prefix: "/" }, route: { cluster, ...options.routeExtra } }];
  const server = await startProxy(
    bootstrap(
      [httpListener("inbound", allDomains(route("app")), options.hcmExtra)],
      [staticCluster("app", [upstreamPort], options.serverCluster)],
    ),
  );
  const client = await startProxy(
    bootstrap(
      [httpListener("outbound", allDomains(route("server")), options.hcmExtra)],
      [staticCluster("server", [server.port()], options.hopCluster)],
    ),
  );
  return {
    client,
    server,
    port: client.port(),
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}
