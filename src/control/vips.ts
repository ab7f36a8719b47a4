// Virtual IPs for services (docs/translation.md, "Capture mode"): a capture-mode sidecar's DNS proxy answers a
// mesh name with its service's VIP, and the sidecar's outbound listeners match connections by it. Istio
// auto-allocates them from 240.240.0.0/16 for ServiceEntries without `addresses`; Trellis does so for every
// service that has none of its own (registered services too: there is no Kubernetes ClusterIP here).
//
// A VIP is a function of the hostname: FNV-1a (32 bits) of the lower-cased hostname, modulo the usable addresses
// of the range (its network and broadcast addresses are never handed out). Hostnames are placed in sorted order;
// one whose address is taken (by an earlier hostname, or by an address a ServiceEntry lists) takes the next free
// one, wrapping around (linear probing). So a hostname keeps its VIP across restarts and control-plane replicas
// and while other services come and go, except when a new hostname that sorts before it collides on its slot.

import { TrellisError } from "../api/errors.ts";

/** Istio's auto-allocation range. */
export const DEFAULT_VIP_RANGE = "240.240.0.0/16";

/** A range that cannot hold VIPs (malformed, IPv6, or too small). */
export class VipRangeError extends TrellisError {
  constructor(range: string, expected: string) {
    super("TRELLIS_VIP_RANGE", `VIP range ${JSON.stringify(range)}: expected ${expected}`);
  }
}

interface Range {
  base: number;
  /** Number of addresses in the range, network and broadcast included. */
  size: number;
}

function parseRange(range: string): Range {
  const [ip, bitsText] = range.split("/");
  const base = ipv4ToNumber(ip ?? "");
  const bits = Number(bitsText);
  if (base === undefined || !Number.isInteger(bits) || bitsText === undefined) {
    throw new VipRangeError(range, "an IPv4 CIDR such as 240.240.0.0/16");
  }
  if (bits < 8 || bits > 30) throw new VipRangeError(range, "a prefix length from /8 to /30");
  const size = 2 ** (32 - bits);
  if (base % size !== 0) throw new VipRangeError(range, `the network address of the block (host bits zero)`);
  return { base, size };
}

/** "a.b.c.d" → its 32-bit value, or undefined when it is not a dotted-quad IPv4 address. */
export function ipv4ToNumber(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let out = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out = out * 256 + n;
  }
  return out;
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** FNV-1a over the string's UTF-16 code units, 32 bits, unsigned. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * One VIP per hostname (lower-cased keys), from `range`. `reserved` are addresses already in use (a
 * ServiceEntry's own `addresses`): never handed out. More hostnames than free addresses: the rest get none.
 */
export function allocateVips(
  hostnames: Iterable<string>,
  range: string = DEFAULT_VIP_RANGE,
  reserved: Iterable<string> = [],
): Map<string, string> {
  const { base, size } = parseRange(range);
  const usable = size - 2; // without the network and broadcast addresses
  const taken = new Set<number>();
  for (const ip of reserved) {
    const n = ipv4ToNumber(ip);
    if (n !== undefined && n > base && n < base + size - 1) taken.add(n - base - 1);
  }
  const out = new Map<string, string>();
  const sorted = [...new Set([...hostnames].map((h) => h.toLowerCase()))].sort();
  for (const host of sorted) {
    if (taken.size >= usable) break;
    let slot = fnv1a(host) % usable;
    while (taken.has(slot)) slot = (slot + 1) % usable;
    taken.add(slot);
    out.set(host, numberToIpv4(base + 1 + slot));
  }
  return out;
}
