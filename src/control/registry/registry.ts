// The registry of self-registered workloads, Eureka's model: an instance registers with a lease, renews it by
// heartbeat, and is removed when the lease runs out (the process died without deregistering) or when it
// deregisters. Leases run on the injected clock; a sweep removes expired instances. Listeners hear of every change
// (the control plane recomputes the world and pushes endpoints).

import type { Clock, Timer } from "../../api/clock.ts";
import type { Instance, Registration, RegistryEvent } from "./types.ts";

/** Eureka's defaults: heartbeats every 30 s, a lease of 90 s, expired instances evicted every 60 s. */
export const DEFAULT_LEASE_MS = 90_000;
export const DEFAULT_SWEEP_MS = 10_000;

export interface RegistryOptions {
  clock: Clock;
  leaseMs?: number;
  sweepIntervalMs?: number;
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

  constructor(options: RegistryOptions) {
    this.clock = options.clock;
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
    this.expiry.set(id, this.clock.now() + leaseMs);
    this.emit({ kind: "registered", instance });
    return instance;
  }

  /** Renews the lease; undefined when the instance is unknown (expired or never registered: register again). */
  heartbeat(id: string): Instance | undefined {
    const instance = this.instances.get(id);
    if (instance === undefined) return undefined;
    instance.renewedAt = this.clock.wallNow();
    this.expiry.set(id, this.clock.now() + instance.leaseMs);
    this.emit({ kind: "renewed", instance });
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

  /** Calls cb for every registration, renewal and removal; returns a function that unsubscribes. */
  onChange(cb: (event: RegistryEvent) => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    const now = this.clock.now();
    for (const [id, due] of [...this.expiry]) if (now >= due) this.remove(id, "lease expired");
    this.start();
  };

  private remove(id: string, reason: string): boolean {
    const instance = this.instances.get(id);
    if (instance === undefined) return false;
    this.instances.delete(id);
    this.expiry.delete(id);
    this.emit({ kind: "removed", instance, reason });
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
