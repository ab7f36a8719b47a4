// The dynamic forward proxy's DNS cache on a manual clock: one lookup per host however many requests wait for it,
// refresh after dns_refresh_rate (the old address serving meanwhile, kept when the refresh fails), removal after
// host_ttl unused, the max_hosts and max_pending_requests bounds, and the stats Envoy keeps.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../api/clock.ts";
import type { DnsCacheConfig } from "../../api/xds/types.ts";
import { renderEnvoyStatsText } from "../../telemetry/envoy-stats-text.ts";
import { StatsStore } from "../../telemetry/stats.ts";
import { DnsCache, type DnsCacheFailure } from "./dns-cache.ts";
import type { Endpoint } from "./endpoint.ts";
import { splitAuthority } from "./dynamic-forward-proxy.ts";

const CONFIG: DnsCacheConfig = {
  name: "c",
  dnsLookupFamily: "AUTO",
  dnsRefreshRateMs: 60_000,
  hostTtlMs: 300_000,
  maxHosts: 1024,
  maxPendingRequests: 1024,
  dnsQueryTimeoutMs: 5_000,
};

/** A resolver whose answers the test releases by hand. */
function manualResolver() {
  const calls: { host: string; resolve: (a: string[]) => void; reject: (e: Error) => void }[] = [];
  return {
    calls,
    lookup: (host: string) => new Promise<string[]>((resolve, reject) => calls.push({ host, resolve, reject })),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

function setup(config: Partial<DnsCacheConfig> = {}) {
  const clock = new ManualClock();
  const store = new StatsStore();
  const dns = manualResolver();
  const cache = new DnsCache({ ...CONFIG, ...config }, dns.lookup, clock, store);
  const results: [string | undefined, DnsCacheFailure | undefined][] = [];
  const ask = (host: string, port = 80) =>
    cache.resolve(host, port, (e: Endpoint | undefined, f) => results.push([e?.key, f]));
  const stat = (name: string) => {
    const m = new RegExp(`^dns_cache\\.c\\.${name}: (\\d+)$`, "m").exec(renderEnvoyStatsText(store));
    return m === null ? NaN : Number(m[1]);
  };
  return { clock, cache, dns, results, ask, stat };
}

describe("the DNS cache", () => {
  test("requests waiting for one host share one lookup; later ones are answered at once", async () => {
    const { dns, results, ask, stat, cache } = setup();
    ask("api.example.com", 8080);
    ask("API.example.com", 8080);
    assert.equal(dns.calls.length, 1);
    assert.deepEqual(results, []);
    dns.calls[0]!.resolve(["10.1.1.1", "10.1.1.2"]);
    await tick();
    assert.deepEqual(results, [
      ["10.1.1.1:8080", undefined],
      ["10.1.1.1:8080", undefined],
    ]);
    ask("api.example.com", 8080);
    assert.equal(results.length, 3, "answered synchronously from the cache");
    assert.equal(dns.calls.length, 1);
    assert.equal(cache.endpointFor("api.example.com", 8080)?.key, "10.1.1.1:8080");
    assert.equal(stat("dns_query_attempt"), 1);
    assert.equal(stat("host_added"), 1);
    assert.equal(stat("num_hosts"), 1);
  });

  test("a used host is looked up again after dns_refresh_rate; a changed address is counted, a failure keeps the old one", async () => {
    const { clock, dns, results, ask, stat, cache } = setup();
    ask("h");
    dns.calls[0]!.resolve(["10.0.0.1"]);
    await tick();
    clock.advance(60_000);
    ask("h");
    assert.equal(dns.calls.length, 2, "refresh started");
    assert.equal(results.at(-1)![0], "10.0.0.1:80", "the old address serves meanwhile");
    dns.calls[1]!.resolve(["10.0.0.2"]);
    await tick();
    assert.equal(cache.endpointFor("h", 80)?.key, "10.0.0.2:80");
    assert.equal(stat("host_address_changed"), 1);
    clock.advance(60_000);
    ask("h");
    dns.calls[2]!.reject(new Error("SERVFAIL"));
    await tick();
    assert.equal(cache.endpointFor("h", 80)?.key, "10.0.0.2:80");
    assert.equal(stat("dns_query_failure"), 1);
  });

  test("a host unused for host_ttl leaves the cache, and its removal is announced", async () => {
    const { clock, dns, ask, stat, cache } = setup({ hostTtlMs: 1000 });
    const removed: (string | undefined)[] = [];
    cache.onHostRemoved((e) => removed.push(e?.key));
    ask("h");
    dns.calls[0]!.resolve(["10.0.0.1"]);
    await tick();
    clock.advance(1000);
    assert.equal(cache.size, 0);
    assert.deepEqual(removed, ["10.0.0.1:80"]);
    assert.equal(stat("host_removed"), 1);
    assert.equal(stat("num_hosts"), 0);
  });

  test("a first lookup that fails answers dns_resolution_failure; so does one that times out", async () => {
    const { clock, dns, results, ask, stat } = setup({ dnsQueryTimeoutMs: 100 });
    ask("bad");
    dns.calls[0]!.reject(new Error("ENOTFOUND"));
    await tick();
    ask("slow");
    clock.advance(100);
    assert.deepEqual(results, [
      [undefined, "dns_resolution_failure"],
      [undefined, "dns_resolution_failure"],
    ]);
    assert.equal(stat("dns_query_timeout"), 1);
  });

  test("max_hosts and max_pending_requests bound the cache", () => {
    const { results, ask, stat } = setup({ maxHosts: 2, maxPendingRequests: 2 });
    ask("a");
    ask("b");
    ask("c");
    ask("a");
    assert.deepEqual(results, [
      [undefined, "dns_cache_overflow"],
      [undefined, "pending_request_overflow"],
    ]);
    assert.equal(stat("host_overflow"), 1);
    assert.equal(stat("dns_rq_pending_overflow"), 1);
  });

  test("an IP literal is its own answer", () => {
    const { dns, results, ask } = setup();
    ask("192.0.2.7", 81);
    ask("::1", 82);
    assert.equal(dns.calls.length, 0);
    assert.deepEqual(results, [
      ["192.0.2.7:81", undefined],
      ["[::1]:82", undefined],
    ]);
  });
});

describe("splitAuthority", () => {
  test("host and port, port 80 by default, IPv6 in brackets; malformed is undefined", () => {
    assert.deepEqual(splitAuthority("api.example.com:8080", 80), { host: "api.example.com", port: 8080 });
    assert.deepEqual(splitAuthority("api.example.com", 80), { host: "api.example.com", port: 80 });
    assert.deepEqual(splitAuthority("[::1]:9000", 80), { host: "::1", port: 9000 });
    assert.deepEqual(splitAuthority("[::1]", 80), { host: "::1", port: 80 });
    for (const bad of ["", ":80", "a:b", "a:70000", "::1", "[::1", "[::1]x"])
      assert.equal(splitAuthority(bad, 80), undefined, bad);
  });
});
