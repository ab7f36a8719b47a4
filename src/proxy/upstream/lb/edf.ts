// Earliest-deadline-first scheduling, as Envoy's weighted round robin and weighted least request use it: every
// entry has a deadline 1/weight after the last time it was picked; a pick takes the earliest deadline (ties go to
// the entry scheduled first) and schedules it again. Over time each entry is picked in proportion to its weight,
// interleaved rather than in bursts. A binary heap of indices in typed arrays: a pick allocates nothing.

import type { Endpoint } from "../endpoint.ts";

/** A load-balancing weight, never below 1 (Envoy rejects 0; a bad value must not stall the scheduler). */
export function weightOf(e: Endpoint): number {
  return e.weight >= 1 ? e.weight : 1;
}

/** True when every endpoint has the same weight (the policies then use their cheaper unweighted path). */
export function allWeightsEqual(hosts: readonly Endpoint[]): boolean {
  for (let i = 1; i < hosts.length; i++) if (weightOf(hosts[i]!) !== weightOf(hosts[0]!)) return false;
  return true;
}

export class EdfScheduler {
  private readonly heap: Int32Array;
  private readonly deadline: Float64Array;
  /** Order of scheduling, to break deadline ties deterministically (Envoy's order_offset). */
  private readonly order: Float64Array;
  private seq = 0;

  constructor(weights: readonly number[]) {
    const n = weights.length;
    this.heap = new Int32Array(n);
    this.deadline = new Float64Array(n);
    this.order = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.deadline[i] = 1 / weights[i]!;
      this.order[i] = this.seq++;
      this.heap[i] = i;
      this.siftUp(i);
    }
  }

  /** The index with the earliest deadline; the caller must reschedule it with `reschedule(weight)`. */
  peek(): number {
    return this.heap[0]!;
  }

  /** Schedules the entry returned by peek() again, 1/weight after its deadline (which is the current time). */
  reschedule(weight: number): void {
    const i = this.heap[0]!;
    this.deadline[i] = this.deadline[i]! + 1 / weight;
    this.order[i] = this.seq++;
    this.siftDown(0);
  }

  private before(a: number, b: number): boolean {
    const da = this.deadline[a]!;
    const db = this.deadline[b]!;
    return da < db || (da === db && this.order[a]! < this.order[b]!);
  }

  private siftUp(pos: number): void {
    const heap = this.heap;
    const item = heap[pos]!;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!this.before(item, heap[parent]!)) break;
      heap[pos] = heap[parent]!;
      pos = parent;
    }
    heap[pos] = item;
  }

  private siftDown(pos: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[pos]!;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(heap[child + 1]!, heap[child]!)) child++;
      if (!this.before(heap[child]!, item)) break;
      heap[pos] = heap[child]!;
      pos = child;
    }
    heap[pos] = item;
  }
}
