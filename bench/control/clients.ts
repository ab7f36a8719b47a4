// A child process of the control-plane benchmark: `count` simulated sidecars, each one ADS stream (SotW) that
// asks for LDS, CDS, RDS (outbound-http) and EDS (every service's cluster) as Envoy does, and ACKs every response
// at once reading only its envelope (envelope-client.ts, over node:http2: the benchmark measures the control plane, not the
// proxies). Each introduces itself as the workload it fronts (mesh.ts), so the control plane translates for it as
// for a real sidecar. Streams share gRPC channels, `perChannel` to each. Talks to the parent over IPC: "ready"
// when every stream has its first response of each type.

import { TYPE_URL } from "../../src/api/xds/wire/codec.ts";
import { wireNode } from "../../src/control/xds/testing.ts";
import { envelopeClient, type Envelope } from "./envelope-client.ts";
import { clusterOf, nodeIdOf, nodeMetadataOf } from "./mesh.ts";

interface Args {
  port: number;
  count: number;
  offset: number;
  perChannel: number;
  services: number;
  /** The services each proxy reaches (a Sidecar's egress): its EDS subscription names their clusters. */
  visible: number;
}

const args = JSON.parse(process.argv[2]!) as Args;
const clusters = Array.from({ length: args.visible }, (_, i) => clusterOf(i));
const channels: ReturnType<typeof envelopeClient>[] = [];
let ready = 0;

function runStream(client: ReturnType<typeof envelopeClient>, j: number): void {
  const s = client.open();
  s.on("error", () => {});
  const seen = new Set<string>();
  const subscriptions: Record<string, string[]> = {
    [TYPE_URL.listener]: [],
    [TYPE_URL.cluster]: [],
    [TYPE_URL.routeConfiguration]: ["outbound-http"],
    [TYPE_URL.clusterLoadAssignment]: clusters,
  };
  const onResponse = (r: Envelope) => {
    s.write({
      type_url: r.type_url,
      version_info: r.version_info,
      response_nonce: r.nonce,
      resource_names: subscriptions[r.type_url],
    });
    if (!seen.has(r.type_url)) {
      seen.add(r.type_url);
      if (seen.size === 4 && ++ready === args.count) process.send?.({ ready: true });
    }
  };
  s.on("data", onResponse);
  let first = true;
  for (const [typeUrl, names] of Object.entries(subscriptions)) {
    s.write({
      ...(first ? { node: wireNode(nodeIdOf(j), nodeMetadataOf(j, args.services)) } : {}),
      type_url: typeUrl,
      resource_names: names,
    });
    first = false;
  }
}

for (let i = 0; i < args.count; i++) {
  if (i % args.perChannel === 0) channels.push(envelopeClient(`127.0.0.1:${args.port}`));
  runStream(channels[channels.length - 1]!, args.offset + i);
}

process.on("message", (m: { exit?: boolean; cpu?: boolean }) => {
  // The parent asks for this process's CPU time before and after the change (µs, user + system).
  if (m.cpu) {
    const u = process.cpuUsage();
    process.send?.({ cpuUs: u.user + u.system });
  }
  if (m.exit) {
    for (const c of channels) c.close();
    process.exit(0);
  }
});
