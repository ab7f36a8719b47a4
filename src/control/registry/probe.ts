// Whether a registered instance can be called where it said: a TCP connection to its sidecar's inbound port (or,
// without a sidecar, its application's port), as Consul's TCP check does. The registry records what a workload
// says; this checks it. The registry API probes an instance when it registers and on each heartbeat (instances
// put in the registry otherwise — by another replica, or in-process — are "unknown" here). An instance is
// "checking" while its first probe runs, "healthy" once every probed port accepts a connection, "unreachable"
// (with the port and the error) otherwise, and is then probed again every few seconds until healthy.
// Transitions are logged.
//
// The state is reported (registration reply, `trellis get workloads`, the log), not used to withhold the instance
// from proxies: an instance's own sidecar gets its inbound listener from the registration, so a sidecar port can
// only accept once the instance is known.

import net from "node:net";
import type { Clock, Timer } from "../../api/clock.ts";
import type { Registry } from "./registry.ts";
import type { Instance } from "./types.ts";

export type HealthStatus = "unknown" | "checking" | "healthy" | "unreachable";

export interface InstanceHealth {
  status: HealthStatus;
  /** What was probed and what happened, e.g. "127.0.0.1:15006 (sidecar of port http): ECONNREFUSED". */
  detail?: string;
  /** Wall-clock milliseconds of the last probe. */
  checkedAt?: number;
}

export interface ProberOptions {
  clock: Clock;
  log?: (line: string) => void;
  connectTimeoutMs?: number;
  /** How often an instance that is not healthy yet is probed again. */
  retryMs?: number;
}

export class SidecarProber {
  private readonly health = new Map<string, InstanceHealth>();
  private readonly inFlight = new Map<string, Promise<InstanceHealth>>();
  private readonly retries = new Map<string, Timer>();
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly connectTimeoutMs: number;
  private readonly retryMs: number;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly registry: Registry,
    options: ProberOptions,
  ) {
    this.clock = options.clock;
    this.log = options.log ?? (() => {});
    this.connectTimeoutMs = options.connectTimeoutMs ?? 1000;
    this.retryMs = options.retryMs ?? 2000;
    this.unsubscribe = registry.onChange((event) => {
      if (event.kind === "removed") this.forget(event.instance.id);
    });
  }

  stop(): void {
    this.unsubscribe();
    for (const t of this.retries.values()) t.cancel();
    this.retries.clear();
  }

  /** The instance's last known health ("checking" while its first probe runs, "unknown" when never probed). */
  healthOf(id: string): InstanceHealth {
    return this.health.get(id) ?? { status: this.inFlight.has(id) ? "checking" : "unknown" };
  }

  /** Probes the instance now (one probe at a time per instance) and returns its health. */
  check(id: string): Promise<InstanceHealth> {
    const running = this.inFlight.get(id);
    if (running !== undefined) return running;
    const instance = this.registry.get(id);
    if (instance === undefined) return Promise.resolve(this.healthOf(id));
    const probe = this.probe(instance).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, probe);
    return probe;
  }

  private async probe(instance: Instance): Promise<InstanceHealth> {
    const failures: string[] = [];
    for (const port of instance.ports) {
      const target = port.sidecarPort ?? port.number;
      const what = port.sidecarPort !== undefined ? `sidecar of port ${port.name}` : `port ${port.name}, no sidecar`;
      const error = await this.connect(instance.address, target);
      if (error !== undefined) failures.push(`${hostPort(instance.address, target)} (${what}): ${error}`);
    }
    const health: InstanceHealth =
      failures.length === 0
        ? { status: "healthy", checkedAt: this.clock.wallNow() }
        : { status: "unreachable", detail: failures.join("; "), checkedAt: this.clock.wallNow() };
    // Removed while probing: nothing to record.
    if (this.registry.get(instance.id) === undefined) return health;
    const before = this.health.get(instance.id)?.status;
    this.health.set(instance.id, health);
    if (before !== health.status)
      this.log(
        health.status === "healthy"
          ? `registry: ${instance.id}: accepts connections, healthy`
          : `registry: ${instance.id}: unreachable: ${health.detail}; probed again every ${this.retryMs / 1000} s`,
      );
    this.retries.get(instance.id)?.cancel();
    this.retries.delete(instance.id);
    if (health.status !== "healthy")
      this.retries.set(
        instance.id,
        this.clock.setTimer(this.retryMs, () => {
          this.retries.delete(instance.id);
          void this.check(instance.id);
        }),
      );
    return health;
  }

  private forget(id: string): void {
    this.retries.get(id)?.cancel();
    this.retries.delete(id);
    this.health.delete(id);
  }

  /** undefined when the port accepted a connection; else the error's code. */
  private connect(address: string, port: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: address, port });
      const done = (error: string | undefined): void => {
        socket.destroy();
        resolve(error);
      };
      socket.setTimeout(this.connectTimeoutMs, () => done(`no answer in ${this.connectTimeoutMs} ms`));
      socket.once("connect", () => done(undefined));
      socket.once("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    });
  }
}

export function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
