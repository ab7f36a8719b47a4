// Flow control across all ADS streams: at most `maxBytes` of responses handed to gRPC and not yet written out, the
// rest waiting in one FIFO (Istio throttles pushes the same way, PILOT_PUSH_THROTTLE). Without it, a change for
// 2000 proxies with a 0.5 MB route table each queues a gigabyte of frames inside gRPC at once, and every proxy
// finishes at the end; with it, memory stays bounded and proxies converge one after another, the first ones early.
// A response still waiting when a newer one of the same type comes for the same stream is replaced by it: in the
// state of the world, the newer response supersedes the older, and its nonce is the one the proxy must answer.
// A proxy that stops reading must not hold the budget for everyone: bytes not written after `stuckAfterMs` stop
// counting against it (that stream's later responses still wait behind its own).

import type { Clock } from "../../api/clock.ts";

export interface BudgetedWriter {
  /** Writes `bytes`; calls `done` once they have left (or the stream is gone). */
  write(bytes: Buffer, done: () => void): void;
}

interface Pending {
  writer: BudgetedWriter;
  key: string;
  bytes: Buffer;
}

export class WriteBudget {
  private inFlight = 0;
  private readonly queue: Pending[] = [];
  /** Per writer: bytes in flight, and its queued responses by key (to replace a superseded one). */
  private readonly writers = new Map<BudgetedWriter, { inFlight: number; queued: Map<string, Pending> }>();

  constructor(
    private readonly maxBytes: number,
    private readonly clock: Clock,
    private readonly stuckAfterMs = 10_000,
  ) {}

  /** Sends now when the budget allows and nothing of this writer waits, else queues (replacing `key`'s entry). */
  send(writer: BudgetedWriter, key: string, bytes: Buffer): void {
    const state = this.stateOf(writer);
    const waiting = state.queued.get(key);
    if (waiting !== undefined) {
      waiting.bytes = bytes;
      return;
    }
    if (state.queued.size === 0 && (this.inFlight === 0 || this.inFlight + bytes.length <= this.maxBytes)) {
      this.start(writer, bytes);
      return;
    }
    const entry = { writer, key, bytes };
    state.queued.set(key, entry);
    this.queue.push(entry);
  }

  /** The stream ended: its bytes in flight no longer count, its queued responses are dropped. */
  forget(writer: BudgetedWriter): void {
    const state = this.writers.get(writer);
    if (state === undefined) return;
    this.writers.delete(writer);
    this.inFlight -= state.inFlight;
    if (state.queued.size > 0) {
      const dropped = new Set(state.queued.values());
      for (let i = this.queue.length - 1; i >= 0; i--) if (dropped.has(this.queue[i]!)) this.queue.splice(i, 1);
    }
    this.pump();
  }

  /** Bytes handed to gRPC and not yet written; for tests. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Responses waiting for budget; for tests. */
  get queued(): number {
    return this.queue.length;
  }

  private stateOf(writer: BudgetedWriter) {
    let state = this.writers.get(writer);
    if (state === undefined) this.writers.set(writer, (state = { inFlight: 0, queued: new Map() }));
    return state;
  }

  private start(writer: BudgetedWriter, bytes: Buffer): void {
    const state = this.stateOf(writer);
    const size = bytes.length;
    state.inFlight += size;
    this.inFlight += size;
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      timer.cancel();
      // A forgotten writer's bytes were already taken off the total.
      if (this.writers.get(writer) !== state) return;
      state.inFlight -= size;
      this.inFlight -= size;
      this.pump();
    };
    // Created before the write, so release (called only by the write's completion or by the timer) can cancel it.
    const timer = this.clock.setTimer(this.stuckAfterMs, release);
    writer.write(bytes, release);
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (this.inFlight > 0 && this.inFlight + next.bytes.length > this.maxBytes) return;
      this.queue.shift();
      const state = this.writers.get(next.writer);
      if (state === undefined) continue;
      state.queued.delete(next.key);
      this.start(next.writer, next.bytes);
    }
  }
}
