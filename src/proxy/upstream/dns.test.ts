import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../api/clock.ts";
import type { Cluster } from "../../api/xds/types.ts";
import { StrictDnsResolver, systemLookup, type DnsLookupFamily } from "./dns.ts";
import type { Endpoint } from "./endpoint.ts";
import { testCluster } from "./lb/test-fixtures.ts";

const REFRESH = 5000;

function dnsCluster(): Cluster {
  const lb = (address: string, port: number, weight = 1) => ({
    address: { address, port },
    loadBalancingWeight: weight,
    healthStatus: "UNKNOWN" as const,
    hostname: undefined,
  });
  return testCluster("ROUND_ROBIN", {
    type: "STRICT_DNS",
    dnsRefreshRateMs: REFRESH,
    dnsLookupFamily: "V4_PREFERRED",
    loadAssignment: {
      clusterName: "svc",
      endpoints: [
        {
          locality: undefined,
          loadBalancingWeight: undefined,
          priority: 0,
          lbEndpoints: [lb("a.svc", 80, 2), lb("10.0.0.9", 81), lb("b.svc", 82)],
        },
      ],
    },
  });
}

/** A scripted resolver: answers (or errors) per host, changeable between refreshes; records every call. */
function fakeDns(initial: Record<string, string[] | Error>) {
  const answers = new Map(Object.entries(initial));
  const calls: [string, DnsLookupFamily][] = [];
  const lookup = async (host: string, family: DnsLookupFamily) => {
    calls.push([host, family]);
    const a = answers.get(host);
    if (a === undefined) throw new Error(`unexpected lookup of ${host}`);
    if (a instanceof Error) throw a;
    return [...a];
  };
  return { lookup, calls, set: (host: string, a: string[] | Error) => answers.set(host, a) };
}

/** Lets the fake lookups' promise callbacks run (they are already settled; nothing waits on time). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function harness(initial: Record<string, string[] | Error>) {
  const clock = new ManualClock();
  const dns = fakeDns(initial);
  const updates: string[][] = [];
  const errors: [string, string][] = [];
  const resolver = new StrictDnsResolver(dnsCluster(), {
    lookup: dns.lookup,
    clock,
    onUpdate: (eps: Endpoint[]) => updates.push(eps.map((e) => `${e.key}/w${e.weight}`)),
    onError: (host, err) => errors.push([host, err.message]),
  });
  return { clock, dns, updates, errors, resolver };
}

describe("StrictDnsResolver", () => {
  test("resolves every name on start (not IP literals) and publishes once all have answered", async () => {
    const h = harness({ "a.svc": ["10.1.0.2", "10.1.0.1"], "b.svc": ["10.2.0.1"] });
    await h.resolver.start();
    assert.deepEqual(h.dns.calls, [
      ["a.svc", "V4_PREFERRED"],
      ["b.svc", "V4_PREFERRED"],
    ]);
    assert.deepEqual(h.updates, [["10.1.0.1:80/w2", "10.1.0.2:80/w2", "10.0.0.9:81/w1", "10.2.0.1:82/w1"]]);
    assert.equal(h.clock.pendingTimers, 2, "one refresh timer per name");
    h.resolver.stop();
  });

  test("re-resolves every dns_refresh_rate and publishes only when an address set changes", async () => {
    const h = harness({ "a.svc": ["10.1.0.1", "10.1.0.2"], "b.svc": ["10.2.0.1"] });
    await h.resolver.start();
    h.dns.set("a.svc", ["10.1.0.2", "10.1.0.1"]); // same set, other order
    h.clock.advance(REFRESH - 1);
    await settle();
    assert.equal(h.dns.calls.length, 2, "not before the refresh interval");
    h.clock.advance(1);
    await settle();
    assert.equal(h.dns.calls.length, 4);
    assert.equal(h.updates.length, 1, "an unchanged answer publishes nothing");

    h.dns.set("b.svc", ["10.2.0.1", "10.2.0.7"]);
    h.clock.advance(REFRESH);
    await settle();
    assert.equal(h.updates.length, 2);
    assert.deepEqual(h.updates[1], [
      "10.1.0.1:80/w2",
      "10.1.0.2:80/w2",
      "10.0.0.9:81/w1",
      "10.2.0.1:82/w1",
      "10.2.0.7:82/w1",
    ]);
    h.resolver.stop();
  });

  test("a failed lookup keeps the last good addresses and is reported", async () => {
    const h = harness({ "a.svc": ["10.1.0.1"], "b.svc": ["10.2.0.1"] });
    await h.resolver.start();
    h.dns.set("a.svc", new Error("SERVFAIL"));
    h.clock.advance(REFRESH);
    await settle();
    assert.deepEqual(h.errors, [["a.svc", "SERVFAIL"]]);
    assert.equal(h.updates.length, 1, "nothing published: a.svc keeps 10.1.0.1");
    // It keeps trying, and a later answer that differs from the last good one is published.
    h.dns.set("a.svc", ["10.1.0.5"]);
    h.clock.advance(REFRESH);
    await settle();
    assert.deepEqual(h.updates[1], ["10.1.0.5:80/w2", "10.0.0.9:81/w1", "10.2.0.1:82/w1"]);
    h.resolver.stop();
  });

  test("a name that fails its first lookup contributes nothing until it resolves", async () => {
    const h = harness({ "a.svc": new Error("NXDOMAIN"), "b.svc": ["10.2.0.1"] });
    await h.resolver.start();
    assert.deepEqual(h.updates, [["10.0.0.9:81/w1", "10.2.0.1:82/w1"]]);
    h.dns.set("a.svc", ["10.1.0.1"]);
    h.clock.advance(REFRESH);
    await settle();
    assert.deepEqual(h.updates[1], ["10.1.0.1:80/w2", "10.0.0.9:81/w1", "10.2.0.1:82/w1"]);
    h.resolver.stop();
  });

  test("stop cancels the timers and drops answers still in flight", async () => {
    const h = harness({ "a.svc": ["10.1.0.1"], "b.svc": ["10.2.0.1"] });
    await h.resolver.start();
    h.resolver.stop();
    assert.equal(h.clock.pendingTimers, 0);
    h.clock.advance(REFRESH * 3);
    await settle();
    assert.equal(h.dns.calls.length, 2);

    // A lookup started before stop() whose answer arrives after it is ignored.
    let release!: (v: string[]) => void;
    const clock = new ManualClock();
    const updates: Endpoint[][] = [];
    const slow = new StrictDnsResolver(dnsCluster(), {
      lookup: (host) =>
        host === "a.svc" ? new Promise<string[]>((r) => (release = r)) : Promise.resolve(["10.2.0.1"]),
      clock,
      onUpdate: (eps) => updates.push(eps),
    });
    const started = slow.start();
    await settle();
    slow.stop();
    await started; // stop() releases whoever waits for the first round
    release(["10.1.0.1"]);
    await settle();
    assert.equal(updates.length, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("a cluster without names publishes its literal endpoints at once and sets no timer", async () => {
    const clock = new ManualClock();
    const updates: string[][] = [];
    const cluster = dnsCluster();
    cluster.loadAssignment!.endpoints[0]!.lbEndpoints.splice(0, 1);
    cluster.loadAssignment!.endpoints[0]!.lbEndpoints.splice(1, 1);
    const r = new StrictDnsResolver(cluster, {
      lookup: () => Promise.reject(new Error("no lookup expected")),
      clock,
      onUpdate: (eps) => updates.push(eps.map((e) => e.key)),
    });
    await r.start();
    assert.deepEqual(updates, [["10.0.0.9:81"]]);
    assert.equal(clock.pendingTimers, 0);
    r.stop();
  });
});

describe("systemLookup", () => {
  test("honours the family option on localhost", async () => {
    assert.deepEqual(await systemLookup("localhost", "V4_ONLY"), ["127.0.0.1"]);
    assert.deepEqual(await systemLookup("localhost", "V4_PREFERRED"), ["127.0.0.1"]);
    assert.ok((await systemLookup("localhost", "ALL")).includes("127.0.0.1"));
    const auto = await systemLookup("localhost", "AUTO");
    assert.ok(auto.length >= 1 && auto.every((a) => a.includes(":") === auto[0]!.includes(":")), "one family");
  });
});

describe("LOGICAL_DNS (firstAddressOnly)", () => {
  function logical(initial: string[] | Error) {
    const clock = new ManualClock();
    const dns = fakeDns({ "api.example": initial });
    const updates: string[][] = [];
    const cluster = testCluster("ROUND_ROBIN", {
      type: "LOGICAL_DNS",
      dnsRefreshRateMs: REFRESH,
      dnsLookupFamily: "AUTO",
      loadAssignment: {
        clusterName: "api",
        endpoints: [
          {
            locality: undefined,
            loadBalancingWeight: undefined,
            priority: 0,
            lbEndpoints: [
              {
                address: { address: "api.example", port: 443 },
                loadBalancingWeight: 1,
                healthStatus: "UNKNOWN",
                hostname: undefined,
              },
            ],
          },
        ],
      },
    });
    const resolver = new StrictDnsResolver(cluster, {
      lookup: dns.lookup,
      clock,
      firstAddressOnly: true,
      onUpdate: (eps: Endpoint[]) => updates.push(eps.map((e) => `${e.key} ${e.hostname}`)),
    });
    return { clock, dns, updates, resolver };
  }

  test("one endpoint at the answer's first address (not sorted); a new first address replaces it", async () => {
    const h = logical(["10.9.0.2", "10.9.0.1"]);
    await h.resolver.start();
    assert.deepEqual(h.updates, [["10.9.0.2:443 api.example"]]);
    h.dns.set("api.example", ["10.9.0.2", "10.9.0.3"]);
    h.clock.advance(REFRESH);
    await settle();
    assert.equal(h.updates.length, 1, "same first address: nothing to publish");
    h.dns.set("api.example", ["10.9.0.3", "10.9.0.2"]);
    h.clock.advance(REFRESH);
    await settle();
    assert.deepEqual(h.updates[1], ["10.9.0.3:443 api.example"]);
    h.resolver.stop();
  });

  test("a failed lookup keeps the last address", async () => {
    const h = logical(["10.9.0.2"]);
    await h.resolver.start();
    h.dns.set("api.example", new Error("SERVFAIL"));
    h.clock.advance(REFRESH);
    await settle();
    assert.deepEqual(h.updates, [["10.9.0.2:443 api.example"]]);
    h.resolver.stop();
  });
});
