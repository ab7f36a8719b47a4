// The registry of self-registered workloads, Eureka's model: an instance registers with a lease, renews it by
// heartbeat, and is removed when the lease runs out (the process died without deregistering) or when it
// deregisters. Leases run on the injected clock; a sweep removes expired instances. Listeners hear of every change
// (the control plane recomputes the world and pushes endpoints).

import type { Clock, Timer } from "../../api/clock.ts";
import type { Instance, Registration, RegistryEvent } from "./types.ts";

/** Eureka's defaults: heartbeats every 30 s, a lease of 90 s, expired instances evicted every 60 s. */
export const DEFAULT_LEASE_MS = 90_000;
export const DEFAULT_SWEEP_MS = 10_000;
/** How long an instance whose lease ran out is still listed (as expired), so that its owner can see what happened. */
export const EXPIRED_RETENTION_MS = 3_600_000;
const EXPIRED_KEPT = 1000;

/** An instance whose lease ran out: no longer in the mesh, still listed for a while. */
export interface ExpiredInstance {
  instance: Instance;
  /** Wall-clock milliseconds when the lease ran out. */
  expiredAt: number;
}

export interface RegistryOptions {
  clock: Clock;
  leaseMs?: number;
  sweepIntervalMs?: number;
  /**
   * Told of every change that must outlive this process (registration, a renewal now and then, removal), e.g. to
   * write it to the resource store. Renewals are passed on at most every third of a lease per instance.
   */
  persist?: (event: RegistryEvent) => void;
}

export class Registry {
  private readonly instances = new Map<string, Instance>();
  /** Lease expiry on the monotonic clock, by instance id. */
  private readonly expiry = new Map<string, number>();
  private readonly listeners = new Set<(event: RegistryEvent) => void>();
  private readonly clock: Clock;
  private readonly leaseMs: number;
  private readonly sweepMs: number;
  private sweepTimer: Timer | undefined;
  private readonly persist: ((event: RegistryEvent) => void) | undefined;
  /** When each instance's renewal was last persisted (monotonic clock). */
  private readonly persistedAt = new Map<string, number>();
  /** Instances whose lease ran out, by id, oldest first. */
  private readonly expired = new Map<string, ExpiredInstance>();

  constructor(options: RegistryOptions) {
    this.clock = options.clock;
    this.persist = options.persist;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.sweepMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_MS;
  }

  /** Starts sweeping expired leases. */
  start(): void {
    if (this.sweepTimer === undefined) this.sweepTimer = this.clock.setTimer(this.sweepMs, this.sweep);
  }

  stop(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
  }

  /**
   * Registers (or re-registers: same id, new details) an instance and starts its lease. The id is
   * `<service>.<namespace>/<address>:<first port>` — one process, one instance.
   */
  register(registration: Registration, leaseMs = this.leaseMs): Instance {
    const id = instanceId(registration);
    const now = this.clock.wallNow();
    const previous = this.instances.get(id);
    const instance: Instance = {
      ...registration,
      id,
      registeredAt: previous?.registeredAt ?? now,
      renewedAt: now,
      leaseMs,
    };
    this.instances.set(id, instance);
    this.expired.delete(id);
    this.expiry.set(id, this.clock.now() + leaseMs);
    this.persistedAt.set(id, this.clock.now());
    const event: RegistryEvent = { kind: "registered", instance };
    this.persist?.(event);
    this.emit(event);
    return instance;
  }

  /**
   * Takes an instance another replica registered or renewed, or one stored before a restart. Its lease runs from
   * now at the latest (a restarted control plane gives every known workload a full lease to heartbeat again).
   */
  adopt(instance: Instance): void {
    const known = this.instances.get(instance.id);
    const sinceRenewal = Math.max(0, this.clock.wallNow() - instance.renewedAt);
    const due =
      this.clock.now() + Math.max(instance.leaseMs - sinceRenewal, known === undefined ? instance.leaseMs : 0);
    this.instances.set(instance.id, instance);
    this.expiry.set(instance.id, Math.max(due, this.expiry.get(instance.id) ?? 0));
    if (
      known === undefined ||
      JSON.stringify({ ...known, renewedAt: 0 }) !== JSON.stringify({ ...instance, renewedAt: 0 })
    )
      this.emit({ kind: "registered", instance });
  }

  /** Forgets an instance another replica removed (no event is persisted again). */
  forget(id: string): void {
    const instance = this.instances.get(id);
    if (instance === undefined) return;
    this.instances.delete(id);
    this.expiry.delete(id);
    this.persistedAt.delete(id);
    this.emit({ kind: "removed", instance, reason: "removed by another control plane" });
  }

  /** Renews the lease; undefined when the instance is unknown (expired or never registered: register again). */
  heartbeat(id: string): Instance | undefined {
    const instance = this.instances.get(id);
    if (instance === undefined) return undefined;
    instance.renewedAt = this.clock.wallNow();
    const now = this.clock.now();
    this.expiry.set(id, now + instance.leaseMs);
    const event: RegistryEvent = { kind: "renewed", instance };
    if (now - (this.persistedAt.get(id) ?? 0) >= instance.leaseMs / 3) {
      this.persistedAt.set(id, now);
      this.persist?.(event);
    }
    this.emit(event);
    return instance;
  }

  deregister(id: string): boolean {
    return this.remove(id, "deregistered");
  }

  get(id: string): Instance | undefined {
    return this.instances.get(id);
  }

  list(): Instance[] {
    return [...this.instances.values()];
  }

  /** Instances whose lease ran out in the last hour (the newest 1000), until they register again. */
  listExpired(): ExpiredInstance[] {
    return [...this.expired.values()];
  }

  /** Wall-clock milliseconds when the instance's lease runs out, or undefined for an unknown instance. */
  leaseExpiresAt(id: string): number | undefined {
    const due = this.expiry.get(id);
    return due === undefined ? undefined : this.clock.wallNow() + (due - this.clock.now());
  }

  /** Calls cb for every registration, renewal and removal; returns a function that unsubscribes. */
  onChange(cb: (event: RegistryEvent) => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    const now = this.clock.now();
    for (const [id, due] of [...this.expiry]) {
      if (now < due) continue;
      const instance = this.instances.get(id);
      if (instance !== undefined) this.expired.set(id, { instance, expiredAt: this.clock.wallNow() });
      this.remove(id, "lease expired");
    }
    const cutoff = this.clock.wallNow() - EXPIRED_RETENTION_MS;
    for (const [id, e] of this.expired)
      if (e.expiredAt < cutoff || this.expired.size > EXPIRED_KEPT) this.expired.delete(id);
    this.start();
  };

  private remove(id: string, reason: string): boolean {
    const instance = this.instances.get(id);
    if (instance === undefined) return false;
    this.instances.delete(id);
    this.expiry.delete(id);
    this.persistedAt.delete(id);
    const event: RegistryEvent = { kind: "removed", instance, reason };
    this.persist?.(event);
    this.emit(event);
    return true;
  }

  private emit(event: RegistryEvent): void {
    for (const cb of [...this.listeners]) cb(event);
  }
}

export function instanceId(r: Registration): string {
  const first = r.ports[0]?.number ?? 0;
  const host = r.address.includes(":") ? `[${r.address}]` : r.address;
  return `${r.service}.${r.namespace}/${host}:${first}`;
}
