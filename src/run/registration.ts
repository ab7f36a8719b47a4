// The instance `trellis run` puts in the mesh, through the control plane's registry API (docs/control-plane.md,
// "The registry"): registered before the application starts, its lease renewed as the reply says
// (`renewEverySeconds`), registered again when a heartbeat answers 404 (the lease ran out, or the control plane lost
// it), removed when the application exits. A refused registration is a RegistrationRefusedError with every problem
// the control plane named; an unreachable control plane is retried with backoff.

import { TrellisError } from "../api/errors.ts";
import { callControl, ControlUnreachableError, type ControlReply } from "../cli/control-client.ts";
import type { RunProtocol } from "./ports.ts";

export interface RegistrationBody {
  service: string;
  namespace: string;
  labels: Record<string, string>;
  address: string;
  nodeId: string;
  serviceAccount?: string;
  /** sidecarPort: where the instance's sidecar takes its traffic; absent for a proxy that is the workload (a gateway). */
  ports: { name: string; number: number; servicePort: number; protocol: RunProtocol; sidecarPort?: number }[];
}

export class RegistrationRefusedError extends TrellisError {
  constructor(
    readonly service: string,
    readonly errors: readonly string[],
  ) {
    super("TRELLIS_RUN_REGISTRATION_REFUSED", `the control plane refused to register ${service}: ${errors.join("; ")}`);
  }
}

export interface RegistrationOptions {
  control: string;
  body: RegistrationBody;
  log: (line: string) => void;
  /** Backoff between attempts while the control plane cannot be reached (default 250 ms doubling to 5 s). */
  retryMs?: { initial: number; max: number };
}

const errorsOf = (reply: ControlReply): string[] =>
  Array.isArray(reply.json.errors) ? reply.json.errors.map(String) : [`HTTP ${reply.status}`];

export class Registration {
  private id: string | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private renewing: Promise<void> = Promise.resolve();
  private abortWait: (() => void) | undefined;

  constructor(private readonly options: RegistrationOptions) {}

  get instanceId(): string | undefined {
    return this.id;
  }

  /**
   * Registers (retrying while the control plane is unreachable, until stop()), then renews the lease. Resolves
   * with the instance id, or undefined when stopped first; rejects with RegistrationRefusedError.
   */
  async register(): Promise<string | undefined> {
    const retry = this.options.retryMs ?? { initial: 250, max: 5000 };
    let delay = retry.initial;
    for (;;) {
      if (this.stopped) return undefined;
      try {
        const reply = await callControl("POST", "/api/v1/registry/instances", this.options.body, this.options.control);
        if (reply.status !== 200) throw new RegistrationRefusedError(this.options.body.service, errorsOf(reply));
        this.id = String(reply.json.id);
        for (const w of Array.isArray(reply.json.warnings) ? reply.json.warnings : [])
          if (!String(w).startsWith("registered, but nothing accepts connections")) this.options.log(String(w));
        const lease = reply.json.lease as { renewEverySeconds?: number } | undefined;
        this.scheduleRenewal((lease?.renewEverySeconds ?? 30) * 1000);
        return this.id;
      } catch (err) {
        if (!(err instanceof ControlUnreachableError)) throw err;
        this.options.log(`${err.message}; retrying in ${delay} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.abortWait = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.abortWait = undefined;
        delay = Math.min(delay * 2, retry.max);
      }
    }
  }

  /** One heartbeat now (the control plane probes the sidecar's ports on each: its health is then current). */
  heartbeat(): Promise<void> {
    this.renewing = this.renewing.then(() => this.renew());
    return this.renewing;
  }

  private scheduleRenewal(everyMs: number): void {
    clearInterval(this.renewTimer);
    if (this.stopped) return;
    this.renewTimer = setInterval(() => void this.heartbeat(), everyMs);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    if (this.stopped || this.id === undefined) return;
    try {
      const reply = await callControl(
        "PUT",
        `/api/v1/registry/instances/${encodeURIComponent(this.id)}/heartbeat`,
        undefined,
        this.options.control,
      );
      if (reply.status === 404 && !this.stopped) {
        this.options.log(`${errorsOf(reply).join("; ")}: registering again`);
        await this.register();
      } else if (reply.status !== 200) this.options.log(`heartbeat: ${errorsOf(reply).join("; ")}`);
    } catch (err) {
      // The lease outlives a few missed heartbeats; the next one tries again.
      this.options.log(`heartbeat failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Stops renewing and removes the instance (a failure is logged: the lease then runs out by itself). */
  async deregister(): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    this.abortWait?.();
    await this.renewing;
    if (this.id === undefined) return;
    try {
      const reply = await callControl(
        "DELETE",
        `/api/v1/registry/instances/${encodeURIComponent(this.id)}`,
        undefined,
        this.options.control,
      );
      if (reply.status !== 200 && reply.status !== 404)
        this.options.log(`deregister ${this.id}: ${errorsOf(reply).join("; ")}`);
    } catch (err) {
      this.options.log(
        `deregister ${this.id}: ${err instanceof Error ? err.message : String(err)}; its lease runs out by itself`,
      );
    }
  }
}
