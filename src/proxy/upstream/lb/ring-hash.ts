// RING_HASH (Ketama) over one priority level's hosts, after Envoy's RingHashLoadBalancer. Each host gets ring
// entries in proportion to its weight, at positions hashString(`${key}_${i}`); a request hash maps to the first
// entry at or after it (wrapping around). Removing one of N hosts moves only the keys on that host's entries
// (plus a little reshuffling when the entries-per-host scale changes, as in Envoy). No request hash: a random one.
//
// Ring size: scaled so that the lightest host gets a whole number of entries and the ring has at least
// minimumRingSize entries, capped at maximumRingSize.

import type { LoadBalancer, PickContext } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";
import { hashString } from "../hash.ts";
import { weightOf } from "./edf.ts";

export interface RingHashOptions {
  minimumRingSize: number;
  maximumRingSize: number;
}

const TWO_POW_32 = 4294967296;
/** Entries are sorted as hash * 2^20 + host index, exact in a double while hosts < 2^20 (a million). */
const INDEX_SPACE = 1 << 20;

export function createRingHash(
  hosts: readonly Endpoint[],
  options: RingHashOptions,
  random: () => number,
): LoadBalancer {
  if (hosts.length === 0) return { pick: () => undefined };
  return new RingHashBalancer(hosts, options, random);
}

export class RingHashBalancer implements LoadBalancer {
  /** Entry hashes, ascending. */
  readonly hashes: Uint32Array;
  /** owner[i] = index into hosts of the entry hashes[i]. */
  private readonly owner: Uint32Array;

  constructor(
    private readonly hosts: readonly Endpoint[],
    options: RingHashOptions,
    private readonly random: () => number,
  ) {
    if (hosts.length >= INDEX_SPACE) throw new RangeError(`ring hash supports at most ${INDEX_SPACE - 1} hosts`);
    const weights = hosts.map(weightOf);
    const total = weights.reduce((a, b) => a + b, 0);
    const minNormalized = weights.reduce((a, b) => Math.min(a, b)) / total;
    const minSize = Math.max(1, options.minimumRingSize);
    const maxSize = Math.max(1, options.maximumRingSize);
    const scale = Math.min(Math.ceil(minNormalized * minSize) / minNormalized, maxSize);
    const size = Math.ceil(scale);

    // Running sums, as Envoy does, so fractional entry counts still add up to `size` overall.
    const keyed = new Float64Array(size);
    let current = 0;
    let target = 0;
    hosts.forEach((host, h) => {
      target += (scale * weights[h]!) / total;
      for (let i = 0; current < target && current < size; i++, current++) {
        keyed[current] = hashString(`${host.key}_${i}`) * INDEX_SPACE + h;
      }
    });
    const filled = keyed.subarray(0, current).sort();
    this.hashes = new Uint32Array(filled.length);
    this.owner = new Uint32Array(filled.length);
    for (let i = 0; i < filled.length; i++) {
      const v = filled[i]!;
      const h = v % INDEX_SPACE;
      this.owner[i] = h;
      this.hashes[i] = (v - h) / INDEX_SPACE;
    }
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const h = ctx.hash !== undefined ? ctx.hash >>> 0 : Math.floor(this.random() * TWO_POW_32);
    const hashes = this.hashes;
    // First entry with hash >= h; past the end wraps to the first entry.
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.hosts[this.owner[lo === hashes.length ? 0 : lo]!];
  }
}
