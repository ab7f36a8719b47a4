// Inside a test's network namespace, under the sidecar's gid: the sidecar's DNS proxy on 127.0.0.1:15053 (as in a
// transparent namespace) with a NameTable, and a resolver of the test's own on 127.0.0.1:53 as its upstream, which
// the namespace's own port-53 redirect must not send back to the proxy (the gid is excluded). Says "ready" on
// stdout, then serves until killed.

import { RCODE, TYPE } from "../../src/proxy/dns/message.ts";
import { DnsProxy } from "../../src/proxy/dns/server.ts";
import { StatsStore } from "../../src/telemetry/stats.ts";
import { FakeResolver } from "./fake-dns.ts";

const upstream = await new FakeResolver().start("127.0.0.1", 53);
upstream.rule = (q) => {
  if (q.name.toLowerCase() !== "www.outside.test") return { rcode: RCODE.NXDOMAIN };
  if (q.type !== TYPE.A) return {};
  return { answers: [{ name: q.name, type: TYPE.A, ttl: 60, address: "192.0.2.1" }] };
};
const dns = new DnsProxy({
  address: "127.0.0.1",
  port: 15053,
  namespace: "default",
  upstreams: [{ host: "127.0.0.1", port: 53 }],
  stats: new StatsStore(),
});
dns.applyNameTable([
  {
    table: {
      "meeting.default.svc.cluster.local": {
        ips: ["240.240.3.7"],
        registry: "Kubernetes",
        shortname: "meeting",
        namespace: "default",
      },
      "*.example.org": { ips: ["240.240.8.1"] },
    },
  },
]);
await dns.start();
process.stdout.write(`ready ${process.getgid?.()}\n`);
