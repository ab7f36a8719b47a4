// MAGLEV over one priority level's hosts, after Envoy's weighted MaglevTable (Google's Maglev paper, section 3.4,
// with weights). Each host walks its own permutation of the table slots (offset and skip from two hashes of its
// key) and claims the next free slot on its turn; a host takes a turn in proportion to its weight. A request hash
// picks table[hash % size]. Removing a host moves its slots and, by design, only a few others. No request hash:
// a random slot.

import type { LoadBalancer, PickContext } from "../balancer.ts";
import type { Endpoint } from "../endpoint.ts";
import { hashString } from "../hash.ts";
import { weightOf } from "./edf.ts";

const TWO_POW_32 = 4294967296;

export function createMaglev(hosts: readonly Endpoint[], tableSize: number, random: () => number): LoadBalancer {
  if (hosts.length === 0) return { pick: () => undefined };
  return new MaglevBalancer(hosts, tableSize, random);
}

export class MaglevBalancer implements LoadBalancer {
  /** table[slot] = index into hosts. */
  readonly table: Uint32Array;

  constructor(
    private readonly hosts: readonly Endpoint[],
    tableSize: number,
    private readonly random: () => number,
  ) {
    // Envoy requires a prime; at least 2 keeps the skip arithmetic defined whatever the configuration says.
    const size = Math.max(2, Math.floor(tableSize));
    const n = hosts.length;
    const weights = hosts.map(weightOf);
    const maxWeight = weights.reduce((a, b) => Math.max(a, b));
    // position: the next slot of the host's permutation (offset + skip * k) % size, advanced by skip.
    const position = new Float64Array(n);
    const skip = new Float64Array(n);
    const targetWeight = new Float64Array(n);
    hosts.forEach((host, i) => {
      position[i] = hashString(host.key, 0) % size;
      skip[i] = (hashString(host.key, 1) % (size - 1)) + 1;
    });

    const table = new Int32Array(size).fill(-1);
    let filled = 0;
    for (let iteration = 1; filled < size; iteration++) {
      for (let i = 0; i < n && filled < size; i++) {
        // A host of weight maxWeight takes a slot every iteration; one of maxWeight / 3 every third.
        if (iteration * weights[i]! < targetWeight[i]!) continue;
        targetWeight[i] = targetWeight[i]! + maxWeight;
        let slot = position[i]!;
        while (table[slot] !== -1) slot = (slot + skip[i]!) % size;
        table[slot] = i;
        position[i] = (slot + skip[i]!) % size;
        filled++;
      }
    }
    this.table = new Uint32Array(table.buffer);
  }

  pick(ctx: PickContext): Endpoint | undefined {
    const h = ctx.hash !== undefined ? ctx.hash >>> 0 : Math.floor(this.random() * TWO_POW_32);
    return this.hosts[this.table[h % this.table.length]!];
  }
}
