// A cluster's current endpoints and the balancer built over them. Membership (EDS, DNS) and health (health checks,
// outlier detection) change the endpoint list; each change builds a new balancer whole and swaps it in, so a pick
// never sees a half-updated structure. Endpoint objects whose address and attributes are unchanged are kept across
// updates: the data path's activeRequests counters and anything keyed by the object survive an EDS push.

import { isIP } from "node:net";
import { systemClock, type Clock } from "../../api/clock.ts";
import type { Cluster, ClusterLoadAssignment } from "../../api/xds/types.ts";
import type { LoadBalancer, PickContext } from "./balancer.ts";
import { Endpoint, HealthFlag, type HealthFlagBit } from "./endpoint.ts";
import { createLoadBalancer } from "./lb/factory.ts";
import { carrySlowStart } from "./lb/slow-start.ts";

/**
 * The endpoints of a load assignment. Addresses that are IP literals are used as given. Host names (STRICT_DNS)
 * expand to every address in `resolved` for that name, each keeping the lb_endpoint's port, weight, health,
 * priority, locality and locality weight (the name becomes the endpoint's hostname unless one is set); a name not
 * yet resolved contributes nothing. Without `resolved` (STATIC, EDS) every address is used as given.
 */
export function endpointsFromAssignment(cla: ClusterLoadAssignment, resolved?: Map<string, string[]>): Endpoint[] {
  const out: Endpoint[] = [];
  for (const group of cla.endpoints) {
    for (const lb of group.lbEndpoints) {
      const { address, port } = lb.address;
      const isName = resolved !== undefined && isIP(address) === 0;
      const addresses = isName ? (resolved.get(address) ?? []) : [address];
      const hostname = lb.hostname ?? (isName ? address : undefined);
      for (const a of addresses) {
        out.push(
          new Endpoint(
            a,
            port,
            lb.loadBalancingWeight,
            lb.healthStatus,
            group.priority,
            group.locality,
            hostname,
            group.loadBalancingWeight,
            lb.healthCheckConfig,
          ),
        );
      }
    }
  }
  return out;
}

export type MembershipListener = (endpoints: readonly Endpoint[], removed: readonly Endpoint[]) => void;

export class ClusterMembership {
  private current: readonly Endpoint[] = [];
  private lb: LoadBalancer;
  private readonly listeners = new Set<MembershipListener>();
  /** HealthFlag bits every endpoint starts with (see startEndpointsWith). */
  private initialFlags = 0;
  /** Told of each pick made in a priority level in panic (the cluster counts lb_healthy_panic). */
  onPanicPick: (() => void) | undefined;
  private readonly panicPick = (): void => this.onPanicPick?.();

  constructor(
    readonly cluster: Cluster,
    endpoints: readonly Endpoint[] = [],
    private readonly random: () => number = Math.random,
    /** Slow start (cluster.slowStart) reads it. */
    private readonly clock: Clock = systemClock,
  ) {
    this.current = [...endpoints];
    this.lb = this.createBalancer();
  }

  get endpoints(): readonly Endpoint[] {
    return this.current;
  }

  get balancer(): LoadBalancer {
    return this.lb;
  }

  pick(ctx: PickContext): Endpoint | undefined {
    return this.lb.pick(ctx);
  }

  /**
   * Replaces the endpoint list. An incoming endpoint equal to a current one (same key, weight, priority, health
   * status, locality, locality weight and hostname) is replaced by the current object, which keeps its counters
   * and its health verdict; a changed attribute makes a new object (Endpoint's attributes are immutable). Listeners
   * hear of the change with the endpoints that left; an update that changes nothing is ignored (the balancer keeps
   * its state).
   */
  update(endpoints: readonly Endpoint[]): void {
    const byKey = new Map<string, Endpoint[]>();
    for (const e of this.current) {
      const list = byKey.get(e.key);
      if (list) list.push(e);
      else byKey.set(e.key, [e]);
    }
    let unchanged = endpoints.length === this.current.length;
    const next = endpoints.map((incoming, i) => {
      const candidates = byKey.get(incoming.key);
      const idx = candidates?.findIndex((old) => sameAttributes(old, incoming)) ?? -1;
      const kept = idx >= 0 ? candidates!.splice(idx, 1)[0]! : incoming;
      if (kept !== this.current[i]) unchanged = false;
      return kept;
    });
    if (unchanged) return;
    const removed = [...byKey.values()].flat();
    if (this.cluster.slowStart !== undefined) carrySlowStart(this.current, next, removed);
    if (this.initialFlags !== 0) this.flagNewEndpoints(next, removed);
    this.current = next;
    this.rebuild(removed);
  }

  /**
   * From now on every endpoint starts with `flags` set — those already here (one rebuild) and those that join
   * later, before the balancer ever sees them. Active health checking uses it the way Envoy flags hosts added to
   * a health-checked cluster (FAILED_ACTIVE_HC | PENDING_ACTIVE_HC until the first check). An endpoint that
   * replaces one with the same address (a changed weight, say) takes that one's bits instead: the address has
   * already been checked, and a weight change must not take it out of the balancer.
   */
  startEndpointsWith(flags: number): void {
    this.initialFlags = flags;
    let changed = false;
    for (const e of this.current) {
      const before = e.healthFlags;
      e.healthFlags |= flags;
      if ((before === 0) !== (e.healthFlags === 0)) changed = true;
    }
    if (changed) this.rebuild([]);
  }

  private flagNewEndpoints(next: readonly Endpoint[], removed: readonly Endpoint[]): void {
    const kept = new Set(this.current);
    for (const e of next) {
      if (kept.has(e)) continue;
      const predecessor = removed.find((old) => old.key === e.key);
      e.healthFlags |= predecessor === undefined ? this.initialFlags : predecessor.healthFlags & this.initialFlags;
    }
  }

  /**
   * Sets or clears one source's health flag (health checks, outlier detection) and rebuilds the balancer when the
   * endpoint's overall health changed. Returns whether the flag changed.
   */
  setHealthFlag(endpoint: Endpoint, flag: HealthFlagBit, failed: boolean): boolean {
    const before = endpoint.healthFlags;
    const after = failed ? before | flag : before & ~flag;
    if (after === before) return false;
    endpoint.healthFlags = after;
    // Passing active health checking again starts slow start again (Envoy's health checker resets the host's
    // last_hc_pass_time); the next balancer stamps it.
    if (flag === HealthFlag.FAILED_ACTIVE_HC && !failed) endpoint.slowStartFrom = undefined;
    if ((before === 0) !== (after === 0) && this.current.includes(endpoint)) this.rebuild([]);
    return true;
  }

  /** Calls cb after every change of membership or health; returns a function that unsubscribes. */
  onChange(cb: MembershipListener): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  private createBalancer(): LoadBalancer {
    const lb = createLoadBalancer(
      this.cluster,
      this.current,
      this.random,
      {
        clock: this.clock,
        // Slow start over: its plain successor replaces it, so picks cost what they cost without slow start.
        onSettled: (plain) => {
          if (this.lb === lb) this.lb = plain;
        },
      },
      this.panicPick,
    );
    return lb;
  }

  private rebuild(removed: readonly Endpoint[]): void {
    this.lb = this.createBalancer();
    for (const cb of [...this.listeners]) cb(this.current, removed);
  }
}

function sameAttributes(a: Endpoint, b: Endpoint): boolean {
  return (
    a.weight === b.weight &&
    a.priority === b.priority &&
    a.healthStatus === b.healthStatus &&
    a.hostname === b.hostname &&
    a.localityWeight === b.localityWeight &&
    a.healthCheck?.port === b.healthCheck?.port &&
    a.healthCheck?.hostname === b.healthCheck?.hostname &&
    a.locality?.region === b.locality?.region &&
    a.locality?.zone === b.locality?.zone &&
    a.locality?.subZone === b.locality?.subZone
  );
}
