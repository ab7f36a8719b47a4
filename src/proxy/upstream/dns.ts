// STRICT_DNS and LOGICAL_DNS membership: every host name of the cluster's load assignment is resolved on start and again every
// dns_refresh_rate; the cluster's endpoints are all the addresses of all names. Like Envoy's StrictDnsClusterImpl:
// each name refreshes on its own timer (the next lookup is scheduled when the previous one finishes, so lookups
// never pile up), a failed lookup keeps the name's last good addresses, and the endpoints are published once every
// name has had its first answer (success or failure) and afterwards only when some name's address set changes.
// The lookup and the clock are injected; `systemLookup` is the real resolver.

import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Clock, Timer } from "../../api/clock.ts";
import type { Cluster } from "../../api/xds/types.ts";
import type { Endpoint } from "./endpoint.ts";
import { endpointsFromAssignment } from "./membership.ts";

export type DnsLookupFamily = Cluster["dnsLookupFamily"];
export type DnsLookup = (host: string, family: DnsLookupFamily) => Promise<string[]>;

export interface StrictDnsResolverOptions {
  lookup: DnsLookup;
  /**
   * LOGICAL_DNS: each name stands for one endpoint, at the first address of its latest answer (Envoy's
   * LogicalDnsCluster: new connections go there; connections already open stay where they are).
   */
  firstAddressOnly?: boolean;
  clock: Clock;
  onUpdate: (endpoints: Endpoint[]) => void;
  onError?: (host: string, err: Error) => void;
}

interface Target {
  host: string;
  /** Sorted, de-duplicated; undefined until the first successful answer. */
  addresses: string[] | undefined;
  answered: boolean;
  timer: Timer | undefined;
}

export class StrictDnsResolver {
  private readonly targets: Target[];
  private running = false;
  /** Bumped by stop(), so answers to lookups started before it are dropped. */
  private generation = 0;
  private published = false;
  private firstRound: Promise<void> | undefined;
  private resolveFirstRound: (() => void) | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly opts: StrictDnsResolverOptions,
  ) {
    const names = new Set<string>();
    for (const group of cluster.loadAssignment?.endpoints ?? []) {
      for (const lb of group.lbEndpoints) if (isIP(lb.address.address) === 0) names.add(lb.address.address);
    }
    this.targets = [...names].map((host) => ({ host, addresses: undefined, answered: false, timer: undefined }));
  }

  /**
   * Starts resolving. The promise settles (never rejects) once the endpoints have first been published, so a
   * caller may wait for the cluster to be initialised; calling start() again while running returns the same one.
   */
  start(): Promise<void> {
    if (this.running) return this.firstRound!;
    this.running = true;
    this.published = false;
    for (const t of this.targets) t.answered = false;
    this.firstRound = new Promise((resolve) => (this.resolveFirstRound = resolve));
    const generation = this.generation;
    if (this.targets.length === 0) this.publishIfReady();
    for (const t of this.targets) void this.resolve(t, generation);
    return this.firstRound;
  }

  /** Cancels every timer; answers still in flight are ignored. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.generation++;
    for (const t of this.targets) {
      t.timer?.cancel();
      t.timer = undefined;
    }
    // Whoever awaits the first round should not hang forever.
    this.resolveFirstRound?.();
  }

  private async resolve(target: Target, generation: number): Promise<void> {
    let changed = false;
    try {
      const answer = await this.opts.lookup(target.host, this.cluster.dnsLookupFamily);
      if (generation !== this.generation) return;
      const addresses = this.opts.firstAddressOnly ? answer.slice(0, 1) : [...new Set(answer)].sort();
      changed = target.addresses === undefined || !sameList(target.addresses, addresses);
      target.addresses = addresses;
    } catch (err) {
      if (generation !== this.generation) return;
      // Keep the last good addresses (Envoy does): a resolver hiccup must not empty the cluster.
      this.opts.onError?.(target.host, err instanceof Error ? err : new Error(String(err)));
    }
    target.answered = true;
    if (this.published) {
      if (changed) this.publish();
    } else {
      this.publishIfReady();
    }
    target.timer = this.opts.clock.setTimer(this.cluster.dnsRefreshRateMs, () => {
      target.timer = undefined;
      void this.resolve(target, generation);
    });
  }

  private publishIfReady(): void {
    if (!this.targets.every((t) => t.answered)) return;
    this.published = true;
    this.publish();
    this.resolveFirstRound?.();
  }

  private publish(): void {
    const resolved = new Map<string, string[]>();
    for (const t of this.targets) if (t.addresses) resolved.set(t.host, t.addresses);
    const cla = this.cluster.loadAssignment ?? { clusterName: this.cluster.name, endpoints: [] };
    this.opts.onUpdate(endpointsFromAssignment(cla, resolved));
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The system resolver (getaddrinfo, so /etc/hosts applies), honouring dns_lookup_family. AUTO takes the family of
 * the system's first answer (Envoy's AUTO prefers IPv6; here the system's address ordering decides), so "localhost"
 * does not become two endpoints of which one may not be listening.
 */
export const systemLookup: DnsLookup = async (host, family) => {
  if (family === "V4_ONLY" || family === "V6_ONLY") {
    const answers = await dnsLookup(host, { all: true, family: family === "V4_ONLY" ? 4 : 6 });
    return answers.map((a) => a.address);
  }
  const answers = await dnsLookup(host, { all: true, family: 0 });
  if (family === "ALL") return answers.map((a) => a.address);
  const preferred = family === "V4_PREFERRED" ? 4 : answers[0]?.family;
  const chosen = answers.filter((a) => a.family === preferred);
  return (chosen.length > 0 ? chosen : answers).map((a) => a.address);
};
