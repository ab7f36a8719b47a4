// One hash for everything that maps request keys onto endpoints (ring hash, maglev, hash_policy), so that a key
// computed by the router and a ring built by the balancer agree. 32-bit MurmurHash3 (x86_32), seed selectable.

export function hashString(s: string, seed = 0): number {
  let h = seed >>> 0;
  const len = s.length;
  let i = 0;
  // Mix UTF-16 code units two at a time; exact byte-level Murmur compatibility is not needed, only a good spread.
  for (; i + 1 < len; i += 2) {
    let k = (s.charCodeAt(i) & 0xffff) | ((s.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = s.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Combines two hashes (for several terminal-less hash policies, as Envoy rotates and xors them). */
export function combineHashes(a: number, b: number): number {
  return (((a << 1) | (a >>> 31)) ^ b) >>> 0;
}
