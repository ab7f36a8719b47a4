// A test harness: an XdsServer on 127.0.0.1:0 with a ManualClock, a snapshot per node id, every hook recorded
// and a way to wait for one (so tests wait for events, never for time).

import type * as grpc from "@grpc/grpc-js";
import { ManualClock } from "../../api/clock.ts";
import { XdsServer, type XdsServerOptions } from "./server.ts";
import { adsClient } from "./testing.ts";
import type { AckEvent, NackEvent, ProxyStatus, PushEvent, Snapshot } from "./types.ts";

type Recorded =
  | { kind: "ack"; e: AckEvent }
  | { kind: "nack"; e: NackEvent }
  | { kind: "push"; e: PushEvent }
  | { kind: "connect"; e: ProxyStatus }
  | { kind: "disconnect"; e: ProxyStatus };

export class Harness {
  readonly clock = new ManualClock();
  readonly snapshots = new Map<string, Snapshot>();
  fallback: Snapshot = new Map();
  readonly logs: string[] = [];
  readonly events: Recorded[] = [];
  snapshotCalls = 0;
  readonly server: XdsServer;
  client!: grpc.Client;
  private waiters: { test: (r: Recorded) => boolean; resolve: (r: Recorded) => void }[] = [];

  constructor(options: Partial<XdsServerOptions> = {}) {
    const record = (r: Recorded) => {
      this.events.push(r);
      this.waiters = this.waiters.filter((w) => (w.test(r) ? (w.resolve(r), false) : true));
    };
    this.server = new XdsServer({
      source: {
        snapshotFor: (node) => {
          this.snapshotCalls++;
          return this.snapshots.get(node.id) ?? this.fallback;
        },
      },
      host: "127.0.0.1",
      port: 0,
      clock: this.clock,
      log: (m) => this.logs.push(m),
      hooks: {
        onAck: (e) => record({ kind: "ack", e }),
        onNack: (e) => record({ kind: "nack", e }),
        onPush: (e) => record({ kind: "push", e }),
        onConnect: (e) => record({ kind: "connect", e }),
        onDisconnect: (e) => record({ kind: "disconnect", e }),
      },
      ...options,
    });
  }

  async start(): Promise<this> {
    const port = await this.server.start();
    this.client = adsClient(`127.0.0.1:${port}`);
    return this;
  }

  pushes(): PushEvent[] {
    return this.events.flatMap((r) => (r.kind === "push" ? [r.e] : []));
  }

  /** Resolves with the first event (already recorded or still to come) of that kind matching the predicate. */
  waitFor<K extends Recorded["kind"]>(
    kind: K,
    pred: (e: Extract<Recorded, { kind: K }>["e"]) => boolean = () => true,
  ): Promise<Extract<Recorded, { kind: K }>["e"]> {
    const test = (r: Recorded) => r.kind === kind && pred(r.e as never);
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen.e as never);
    return new Promise((resolve) => this.waiters.push({ test, resolve: (r) => resolve(r.e as never) }));
  }

  async close(): Promise<void> {
    this.client.close();
    await this.server.stop(200);
  }
}
