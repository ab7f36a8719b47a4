// Simulation of TLS passthrough: translate the tls-sni-routes case, parse its TLS listeners with the proxy's own
// parser, and choose filter chains with the proxy's own selector for synthetic ClientHellos (SNI) — which cluster a
// connection reaches. No sockets.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseListener } from "../src/api/xds/parse/index.ts";
import type { FilterChain, Listener } from "../src/api/xds/types.ts";
import { loadCase } from "../src/control/translate/testing.ts";
import { translate } from "../src/control/translate/translate.ts";
import { FilterChainSelector } from "../src/proxy/listener/filter-chain-selector.ts";

function tlsListener(name: string): Listener {
  const { world, proxy } = loadCase("tls-sni-routes.yaml");
  const raw = translate(world, proxy).listeners.find((l) => l.name === name);
  assert.ok(raw, name);
  return parseListener(raw);
}

/** Where a TLS connection with this SNI goes: a cluster, "a:80 b:20" for a split, or undefined (closed). */
function target(l: Listener, sni: string): string | undefined {
  const selector = new FilterChainSelector<FilterChain>(
    l.filterChains.map((c) => ({ match: c.match, value: c })),
    l.defaultFilterChain,
  );
  const chain = selector.select({
    destinationPort: l.address.port,
    transportProtocol: "tls",
    serverName: sni,
    applicationProtocols: [],
  });
  const filter = chain?.filters.at(-1);
  if (filter === undefined) return undefined;
  assert.equal(filter.kind, "tcp_proxy");
  if (filter.kind !== "tcp_proxy") return undefined;
  return filter.config.cluster ?? filter.config.weightedClusters?.map((c) => `${c.name}:${c.weight}`).join(" ");
}

describe("translated TLS routes, simulated", () => {
  test("port 443: VirtualService tls matches by SNI, a ServiceEntry host by its own name", () => {
    const l = tlsListener("outbound-tcp-443");
    assert.deepEqual(
      l.listenerFilters.map((f) => f.kind),
      ["tls_inspector"],
    );
    assert.equal(target(l, "api-canary.example.com"), "outbound|443||api-canary.example.com");
    assert.equal(
      target(l, "api.example.com"),
      "outbound|443||api.example.com:80 outbound|443||api-canary.example.com:20",
    );
    assert.equal(target(l, "www.example.com"), "outbound|443||www.example.com");
    assert.equal(target(l, "unknown.example.com"), undefined);
  });

  test("port 8443: a registered HTTPS service split by subset, a TLS one by its host name", () => {
    const l = tlsListener("outbound-tcp-8443");
    assert.equal(
      target(l, "pay.example.internal"),
      "outbound|8443|v1|payments.default.svc.cluster.local:90 outbound|8443|v2|payments.default.svc.cluster.local:10",
    );
    assert.equal(target(l, "ledger.default.svc.cluster.local"), "outbound|8443||ledger.default.svc.cluster.local");
    assert.equal(target(l, ""), undefined); // no SNI: no chain (there is no original destination to go to)
  });
});
