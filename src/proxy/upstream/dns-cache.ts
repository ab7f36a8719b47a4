// The dynamic forward proxy's DNS cache (Envoy's DnsCacheImpl): "host:port" → one resolved address, shared by the
// dynamic_forward_proxy HTTP filter (which resolves the request's host before the router runs, holding the request
// until the answer) and the dynamic forward proxy cluster (which connects to that address, one connection pool per
// address). A host is looked up once; requests that arrive while it is being looked up wait for the same answer. A
// host in use is looked up again once its answer is dns_refresh_rate old (the stale address serves meanwhile; a
// failed refresh keeps it); a host unused for host_ttl leaves the cache. At most max_hosts hosts (one more is
// refused: host_overflow) and max_pending_requests requests waiting for answers (dns_rq_pending_overflow).
// Stats as Envoy's: dns_cache.<name>.{dns_query_attempt, dns_query_success, dns_query_failure, dns_query_timeout,
// host_added, host_removed, host_address_changed, host_overflow, dns_rq_pending_overflow, num_hosts}.
//
// One manager per proxy, found through the proxy's StatsStore (the filter and the cluster are built from different
// places and share nothing else): Envoy's DnsCacheManager singleton, per proxy. The lookup is injected there
// (ProxyOptions.dnsLookup; tests map names to 127.0.0.x), as STRICT_DNS clusters take theirs.

import { isIP } from "node:net";
import type { Clock, Timer } from "../../api/clock.ts";
import type { DnsCacheConfig } from "../../api/xds/types.ts";
import type { Counter, Gauge, StatsStore } from "../../telemetry/stats.ts";
import { systemLookup, type DnsLookup } from "./dns.ts";
import { Endpoint } from "./endpoint.ts";

export type DnsCacheFailure = "dns_resolution_failure" | "dns_cache_overflow" | "pending_request_overflow";

/** Called once per request: the endpoint, or why there is none. Synchronously when the cache already knows. */
export type DnsCacheCallback = (endpoint: Endpoint | undefined, failure: DnsCacheFailure | undefined) => void;

class DnsCacheStats {
  readonly queryAttempt: Counter;
  readonly querySuccess: Counter;
  readonly queryFailure: Counter;
  readonly queryTimeout: Counter;
  readonly hostAdded: Counter;
  readonly hostRemoved: Counter;
  readonly hostAddressChanged: Counter;
  readonly hostOverflow: Counter;
  readonly pendingOverflow: Counter;
  readonly numHosts: Gauge;

  constructor(store: StatsStore, name: string) {
    const labels = { envoy_dns_cache_name: name };
    const counter = (n: string, help: string) => store.counter("envoy_dns_cache_" + n, help, labels);
    this.queryAttempt = counter("dns_query_attempt", "DNS queries started");
    this.querySuccess = counter("dns_query_success", "DNS queries answered");
    this.queryFailure = counter("dns_query_failure", "DNS queries that failed");
    this.queryTimeout = counter("dns_query_timeout", "DNS queries that timed out");
    this.hostAdded = counter("host_added", "Hosts added to the cache");
    this.hostRemoved = counter("host_removed", "Hosts removed from the cache (host_ttl)");
    this.hostAddressChanged = counter("host_address_changed", "Refreshes that changed a host's address");
    this.hostOverflow = counter("host_overflow", "Hosts refused at max_hosts");
    this.pendingOverflow = counter("dns_rq_pending_overflow", "Requests refused at max_pending_requests");
    this.numHosts = store.gauge("envoy_dns_cache_num_hosts", "Hosts in the cache", labels);
  }
}

interface HostEntry {
  key: string;
  host: string;
  port: number;
  endpoint: Endpoint | undefined;
  resolvedAt: number;
  lastUsed: number;
  /** Requests waiting for the first answer; undefined when no lookup is waited on. */
  waiters: DnsCacheCallback[] | undefined;
  refreshing: boolean;
}

export class DnsCache {
  private readonly entries = new Map<string, HostEntry>();
  private readonly stats: DnsCacheStats;
  private pending = 0;
  private sweepTimer: Timer | undefined;
  private closed = false;

  constructor(
    readonly config: DnsCacheConfig,
    private readonly lookup: DnsLookup,
    private readonly clock: Clock,
    store: StatsStore,
  ) {
    this.stats = new DnsCacheStats(store, config.name);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The endpoint of `host:port` if the cache has one (the cluster's pick); marks the host used. */
  endpointFor(host: string, port: number): Endpoint | undefined {
    const entry = this.entries.get(hostKey(host, port));
    if (entry === undefined) return undefined;
    entry.lastUsed = this.clock.now();
    return entry.endpoint;
  }

  /** Resolves `host:port` for one request (the filter); `done` runs exactly once. */
  resolve(host: string, port: number, done: DnsCacheCallback): void {
    const key = hostKey(host, port);
    const now = this.clock.now();
    let entry = this.entries.get(key);
    if (entry === undefined) {
      if (this.entries.size >= this.config.maxHosts) {
        this.stats.hostOverflow.inc();
        done(undefined, "dns_cache_overflow");
        return;
      }
      entry = {
        key,
        host: host.toLowerCase(),
        port,
        endpoint: undefined,
        resolvedAt: 0,
        lastUsed: now,
        waiters: undefined,
        refreshing: false,
      };
      this.entries.set(key, entry);
      this.stats.hostAdded.inc();
      this.stats.numHosts.set(this.entries.size);
      this.scheduleSweep();
    }
    entry.lastUsed = now;
    if (entry.endpoint !== undefined) {
      if (now - entry.resolvedAt >= this.config.dnsRefreshRateMs && !entry.refreshing) this.query(entry);
      done(entry.endpoint, undefined);
      return;
    }
    if (this.pending >= this.config.maxPendingRequests) {
      this.stats.pendingOverflow.inc();
      done(undefined, "pending_request_overflow");
      return;
    }
    this.pending++;
    if (entry.waiters === undefined) {
      entry.waiters = [done];
      this.query(entry);
    } else entry.waiters.push(done);
  }

  /** Cancels the sweep; answers still in flight are dropped. */
  close(): void {
    this.closed = true;
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    for (const entry of this.entries.values()) this.answer(entry, undefined);
    this.entries.clear();
    this.stats.numHosts.set(0);
  }

  private query(entry: HostEntry): void {
    entry.refreshing = true;
    this.stats.queryAttempt.inc();
    if (isIP(entry.host) !== 0) {
      this.settle(entry, entry.host, undefined);
      return;
    }
    let settled = false;
    const timer = this.clock.setTimer(this.config.dnsQueryTimeoutMs, () => {
      if (settled) return;
      settled = true;
      this.stats.queryTimeout.inc();
      this.settle(entry, undefined, new Error(`no answer in ${this.config.dnsQueryTimeoutMs} ms`));
    });
    let answer: Promise<string[]>;
    try {
      answer = this.lookup(entry.host, this.config.dnsLookupFamily);
    } catch (err) {
      answer = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    answer.then(
      (addresses) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        const address = addresses[0];
        this.settle(entry, address, address === undefined ? new Error("no addresses") : undefined);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        this.settle(entry, undefined, err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private settle(entry: HostEntry, address: string | undefined, error: Error | undefined): void {
    entry.refreshing = false;
    if (this.closed || this.entries.get(entry.key) !== entry) return;
    if (address === undefined || error !== undefined) {
      this.stats.queryFailure.inc();
      // A failed first lookup leaves the host unresolved (its next request asks again); a failed refresh keeps the
      // last good address, as Envoy does.
      this.answer(entry, entry.endpoint);
      return;
    }
    this.stats.querySuccess.inc();
    const previous = entry.endpoint;
    if (previous !== undefined && previous.address !== address) this.stats.hostAddressChanged.inc();
    if (previous === undefined || previous.address !== address) {
      entry.endpoint = new Endpoint(address, entry.port, 1, "HEALTHY", 0, undefined, entry.host);
    }
    entry.resolvedAt = this.clock.now();
    this.answer(entry, entry.endpoint);
  }

  private answer(entry: HostEntry, endpoint: Endpoint | undefined): void {
    const waiters = entry.waiters;
    if (waiters === undefined) return;
    entry.waiters = undefined;
    this.pending -= waiters.length;
    for (const done of waiters) done(endpoint, endpoint === undefined ? "dns_resolution_failure" : undefined);
  }

  /** Removes hosts unused for host_ttl; runs while the cache has hosts. */
  private scheduleSweep(): void {
    if (this.sweepTimer !== undefined || this.closed) return;
    this.sweepTimer = this.clock.setTimer(this.config.hostTtlMs, () => {
      this.sweepTimer = undefined;
      const now = this.clock.now();
      for (const [key, entry] of this.entries) {
        if (entry.waiters !== undefined || now - entry.lastUsed < this.config.hostTtlMs) continue;
        this.entries.delete(key);
        this.stats.hostRemoved.inc();
        for (const listener of this.removalListeners) listener(entry.endpoint);
      }
      this.stats.numHosts.set(this.entries.size);
      if (this.entries.size > 0) this.scheduleSweep();
    });
  }

  private readonly removalListeners: ((endpoint: Endpoint | undefined) => void)[] = [];

  /** Called with the endpoint of each host that leaves the cache (the cluster closes its pool). */
  onHostRemoved(listener: (endpoint: Endpoint | undefined) => void): void {
    this.removalListeners.push(listener);
  }
}

/** "host:port", lower case; an IPv6 literal in brackets. */
function hostKey(host: string, port: number): string {
  const h = host.toLowerCase();
  return h.includes(":") ? `[${h}]:${port}` : `${h}:${port}`;
}

/** The caches of one proxy, by name; the lookup every cache uses. */
export class DnsCacheManager {
  lookup: DnsLookup = systemLookup;
  private readonly caches = new Map<string, DnsCache>();
  /** Dynamic forward proxy clusters by name → their cache's name (the filter acts only on routes to these). */
  private readonly clusters = new Map<string, { owner: object; cache: string }>();

  constructor(private readonly store: StatsStore) {}

  /** The cache of config.name; a cache whose settings changed is replaced (its hosts are looked up again). */
  cache(config: DnsCacheConfig, clock: Clock): DnsCache {
    const existing = this.caches.get(config.name);
    if (existing !== undefined && sameConfig(existing.config, config)) return existing;
    existing?.close();
    const cache = new DnsCache(config, (host, family) => this.lookup(host, family), clock, this.store);
    this.caches.set(config.name, cache);
    return cache;
  }

  /** A dynamic forward proxy cluster was built (`owner` is it); it stays registered until the same owner leaves. */
  registerCluster(name: string, cacheName: string, owner: object): void {
    this.clusters.set(name, { owner, cache: cacheName });
  }

  unregisterCluster(name: string, owner: object): void {
    if (this.clusters.get(name)?.owner === owner) this.clusters.delete(name);
  }

  /** The cache name of a dynamic forward proxy cluster, or undefined for any other cluster. */
  cacheOfCluster(name: string): string | undefined {
    return this.clusters.get(name)?.cache;
  }

  /** The cache named `name` if one exists. */
  existing(name: string): DnsCache | undefined {
    return this.caches.get(name);
  }
}

function sameConfig(a: DnsCacheConfig, b: DnsCacheConfig): boolean {
  return (
    a.name === b.name &&
    a.dnsLookupFamily === b.dnsLookupFamily &&
    a.dnsRefreshRateMs === b.dnsRefreshRateMs &&
    a.hostTtlMs === b.hostTtlMs &&
    a.maxHosts === b.maxHosts &&
    a.maxPendingRequests === b.maxPendingRequests &&
    a.dnsQueryTimeoutMs === b.dnsQueryTimeoutMs
  );
}

const managers = new WeakMap<StatsStore, DnsCacheManager>();

/** The DNS cache manager of the proxy whose stats are `store`. */
export function dnsCacheManager(store: StatsStore): DnsCacheManager {
  let manager = managers.get(store);
  if (manager === undefined) {
    manager = new DnsCacheManager(store);
    managers.set(store, manager);
  }
  return manager;
}
