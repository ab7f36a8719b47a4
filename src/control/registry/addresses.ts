// Addresses for `trellis run --transparent`: each run's network namespace gets one address from a range the control
// plane owns (`trellis up --address-range CIDR`, default 10.250.0.0/16), as a Kubernetes node's IPAM hands a pod its
// IP. The range's first host address is the gateway (the host end, on the bridge trellis0); the others are leased,
// round robin (the first free address after the last one handed out, wrapping, as DHCP servers avoid handing a
// just-released address straight back: a caller may still hold pooled connections to the run that had it), one per
// node id (asking again with the same node id renews the same lease). A lease runs out
// when it is neither renewed (by asking again, or by a heartbeat of an instance registered with the same node id)
// nor released (DELETE, or the deregistration or expiry of that instance); leases are kept in the resource store
// (kind AddressLease), so a restarted control plane, or another replica, hands out none twice.

import type { Clock, Timer } from "../../api/clock.ts";
import { TrellisError } from "../../api/errors.ts";
import type { StoredResource } from "../store/types.ts";

export const DEFAULT_ADDRESS_RANGE = "10.250.0.0/16";
export const BRIDGE_NAME = "trellis0";
export const ADDRESS_LEASE_KIND = "AddressLease";
const LEASE_NAMESPACE = "trellis-system";
const SWEEP_MS = 10_000;

/** A range that is not an IPv4 CIDR with room for a gateway and one address at least. */
export class AddressRangeError extends TrellisError {
  constructor(range: string, what: string) {
    super("TRELLIS_ADDRESS_RANGE", `--address-range "${range}": ${what}`);
  }
}

/** Every address of the range is leased. */
export class AddressesExhaustedError extends TrellisError {
  constructor(range: string, leased: number) {
    super(
      "TRELLIS_ADDRESSES_EXHAUSTED",
      `no free address in ${range}: all ${leased} are leased (stop a run, or give trellis up a larger --address-range)`,
    );
  }
}

export interface AddressLease {
  address: string;
  prefixLength: number;
  gateway: string;
  bridge: string;
  nodeId: string;
  /** Wall-clock milliseconds of the lease and of its last renewal; it runs out leaseMs after the latter. */
  leasedAt: number;
  renewedAt: number;
  leaseMs: number;
}

export interface AddressRange {
  cidr: string;
  network: number;
  prefixLength: number;
  gateway: string;
  /** First and last leasable addresses (as numbers). */
  first: number;
  last: number;
}

const ipToNumber = (ip: string): number | undefined => {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
};

export const numberToIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

/** An IPv4 CIDR: the gateway is its first host address, the rest up to the broadcast address are leased. */
export function parseAddressRange(cidr: string): AddressRange {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr.trim());
  const base = m === null ? undefined : ipToNumber(m[1]!);
  if (m === null || base === undefined)
    throw new AddressRangeError(cidr, "expected an IPv4 CIDR such as 10.250.0.0/16");
  const prefixLength = Number(m[2]);
  if (prefixLength < 8 || prefixLength > 29)
    throw new AddressRangeError(cidr, `expected a prefix length of 8 to 29, got ${prefixLength}`);
  const size = 2 ** (32 - prefixLength);
  const network = base - (base % size);
  if (network !== base)
    throw new AddressRangeError(
      cidr,
      `${m[1]} is not the range's first address (${numberToIp(network)}/${prefixLength})`,
    );
  return {
    cidr: `${numberToIp(network)}/${prefixLength}`,
    network,
    prefixLength,
    gateway: numberToIp(network + 1),
    first: network + 2,
    last: network + size - 2,
  };
}

export interface AddressPoolOptions {
  clock: Clock;
  range?: string;
  /** How long a lease lasts without renewal (default the registry's 90 s). */
  leaseMs?: number;
  /** Told of every lease and release, to be stored. */
  persist?: (event: { kind: "leased" | "released"; lease: AddressLease }) => void;
  log?: (line: string) => void;
}

export class AddressPool {
  readonly range: AddressRange;
  /** Where the next search for a free address starts: just after the last one handed out. */
  private cursor: number;
  private readonly byAddress = new Map<string, AddressLease>();
  private readonly byNode = new Map<string, AddressLease>();
  private readonly leaseMs: number;
  private timer: Timer | undefined;

  constructor(private readonly options: AddressPoolOptions) {
    this.range = parseAddressRange(options.range ?? DEFAULT_ADDRESS_RANGE);
    this.cursor = this.range.first;
    this.leaseMs = options.leaseMs ?? 90_000;
  }

  start(): void {
    this.timer ??= this.options.clock.setTimer(SWEEP_MS, () => {
      this.timer = undefined;
      this.sweep();
      this.start();
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** The node's lease, renewed; a new one (the first free address after the last one handed out) when it has none. */
  lease(nodeId: string): AddressLease {
    const now = this.options.clock.wallNow();
    const known = this.byNode.get(nodeId);
    if (known !== undefined) {
      known.renewedAt = now;
      this.options.persist?.({ kind: "leased", lease: known });
      return known;
    }
    this.sweep();
    const size = this.range.last - this.range.first + 1;
    for (let i = 0; i < size; i++) {
      const n = this.range.first + ((this.cursor - this.range.first + i) % size);
      const address = numberToIp(n);
      if (this.byAddress.has(address)) continue;
      this.cursor = n === this.range.last ? this.range.first : n + 1;
      const lease: AddressLease = {
        address,
        prefixLength: this.range.prefixLength,
        gateway: this.range.gateway,
        bridge: BRIDGE_NAME,
        nodeId,
        leasedAt: now,
        renewedAt: now,
        leaseMs: this.leaseMs,
      };
      this.add(lease);
      this.options.persist?.({ kind: "leased", lease });
      return lease;
    }
    throw new AddressesExhaustedError(this.range.cidr, this.byAddress.size);
  }

  /** Renews the node's lease if it has one (an instance's heartbeat does). */
  renew(nodeId: string): void {
    const lease = this.byNode.get(nodeId);
    if (lease !== undefined) lease.renewedAt = this.options.clock.wallNow();
  }

  /** Releases a lease by address or node id; whether there was one. */
  release(key: { address?: string; nodeId?: string }, reason = "released"): boolean {
    const lease = key.address !== undefined ? this.byAddress.get(key.address) : this.byNode.get(key.nodeId ?? "\u0000");
    if (lease === undefined) return false;
    this.delete(lease);
    this.options.log?.(`addresses: ${lease.address} (${lease.nodeId}) ${reason}`);
    this.options.persist?.({ kind: "released", lease });
    return true;
  }

  /** A lease another replica made, or one stored before a restart. */
  adopt(lease: AddressLease): void {
    const previous = this.byAddress.get(lease.address);
    if (previous !== undefined) this.delete(previous);
    this.add(lease);
  }

  /** A lease another replica released. */
  forget(address: string): void {
    const lease = this.byAddress.get(address);
    if (lease !== undefined) this.delete(lease);
  }

  list(): AddressLease[] {
    return [...this.byAddress.values()].sort((a, b) => (ipToNumber(a.address) ?? 0) - (ipToNumber(b.address) ?? 0));
  }

  /** Leases not renewed within their time are released. */
  sweep(): void {
    const now = this.options.clock.wallNow();
    for (const lease of [...this.byAddress.values()])
      if (now - lease.renewedAt >= lease.leaseMs)
        this.release({ address: lease.address }, `lease expired (not renewed for ${lease.leaseMs / 1000} s)`);
  }

  private add(lease: AddressLease): void {
    this.byAddress.set(lease.address, lease);
    this.byNode.set(lease.nodeId, lease);
  }

  private delete(lease: AddressLease): void {
    this.byAddress.delete(lease.address);
    if (this.byNode.get(lease.nodeId) === lease) this.byNode.delete(lease.nodeId);
  }
}

export function leaseToStored(lease: AddressLease): StoredResource {
  return {
    apiVersion: "trellis.io/v1",
    kind: ADDRESS_LEASE_KIND,
    metadata: { name: lease.address.replaceAll(".", "-"), namespace: LEASE_NAMESPACE },
    spec: lease,
  };
}

export function leaseFromStored(stored: StoredResource): AddressLease | undefined {
  const spec = stored.spec as Partial<AddressLease> | undefined;
  if (spec === undefined || typeof spec.address !== "string" || typeof spec.nodeId !== "string") return undefined;
  return spec as AddressLease;
}
