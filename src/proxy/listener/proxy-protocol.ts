// envoy.filters.listener.proxy_protocol: a load balancer in front of the proxy says who the client really is in a
// PROXY protocol header (HAProxy's spec, v1 text and v2 binary) before the connection's own bytes. The header is
// read and removed; its source becomes the connection's remote address and its destination the local one (for the
// HCM, x-forwarded-for, access logs and filter_chain_match's destination port), as Envoy restores them. A v2 LOCAL
// command or a v1 UNKNOWN keeps the connection's own addresses. A bad header, or none at all, closes the
// connection, unless allow_requests_without_proxy_protocol lets a connection without one go on untouched.
// Stats as Envoy's, proxy_proto.*.

import { markRestored } from "./original-destination.ts";
import { isIPv4, isIPv6 } from "node:net";
import type net from "node:net";
import type { Counter, StatsStore } from "../../telemetry/stats.ts";
import type { ConnectionProperties } from "./filter-chain-selector.ts";
import type { InspectContext, InspectResult, ListenerFilterRuntime } from "./listener-filter.ts";

const V1_PREFIX = Buffer.from("PROXY ", "latin1");
/** The longest v1 header the spec allows, CRLF included. */
export const V1_MAX_LENGTH = 107;
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;

export interface ProxyAddresses {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

export type ProxyHeader =
  | { kind: "incomplete" }
  | { kind: "not_proxy" }
  | { kind: "error"; version: 1 | 2; reason: string }
  /** `addresses` undefined: a v2 LOCAL command, v1 UNKNOWN or v2 AF_UNSPEC (the connection keeps its own). */
  | { kind: "header"; version: 1 | 2; length: number; addresses: ProxyAddresses | undefined };

const INCOMPLETE: ProxyHeader = Object.freeze({ kind: "incomplete" });
const NOT_PROXY: ProxyHeader = Object.freeze({ kind: "not_proxy" });

/** Whether the first min(len) bytes of `data` equal those of `sig`. */
function startsLike(data: Buffer, sig: Buffer): boolean {
  const n = Math.min(data.length, sig.length);
  return data.compare(sig, 0, n, 0, n) === 0;
}

/** Reads a PROXY protocol header at the start of `data` (everything read so far). */
export function parseProxyHeader(data: Buffer): ProxyHeader {
  if (data.length === 0) return INCOMPLETE;
  if (startsLike(data, V2_SIGNATURE)) return data.length < V2_FIXED ? INCOMPLETE : parseV2(data);
  if (startsLike(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? INCOMPLETE : parseV1(data);
  return NOT_PROXY;
}

function parseV1(data: Buffer): ProxyHeader {
  const limit = Math.min(data.length, V1_MAX_LENGTH);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (data[i] === 0x0d) {
      if (i + 1 >= data.length) return INCOMPLETE;
      if (data[i + 1] !== 0x0a) return v1Error("a CR not followed by LF");
      end = i;
      break;
    }
    if (data[i] === 0x0a) return v1Error("a LF without CR");
  }
  if (end < 0) return data.length >= V1_MAX_LENGTH ? v1Error(`no CRLF within ${V1_MAX_LENGTH} bytes`) : INCOMPLETE;
  const line = data.toString("latin1", 0, end);
  const length = end + 2;
  const fields = line.split(" ");
  const family = fields[1];
  if (family === "UNKNOWN") return { kind: "header", version: 1, length, addresses: undefined };
  if (family !== "TCP4" && family !== "TCP6") return v1Error(`unknown protocol ${JSON.stringify(family ?? "")}`);
  if (fields.length !== 6) return v1Error(`expected 6 fields, got ${fields.length}`);
  const isIp = family === "TCP4" ? isIPv4 : isIPv6;
  const [, , src, dst, sport, dport] = fields as [string, string, string, string, string, string];
  if (!isIp(src) || !isIp(dst)) return v1Error(`addresses are not ${family === "TCP4" ? "IPv4" : "IPv6"}`);
  const sourcePort = port(sport);
  const destinationPort = port(dport);
  if (sourcePort < 0 || destinationPort < 0) return v1Error("a port is not a number from 0 to 65535");
  return {
    kind: "header",
    version: 1,
    length,
    addresses: { sourceAddress: src, sourcePort, destinationAddress: dst, destinationPort },
  };
}

function port(text: string): number {
  if (!/^\d{1,5}$/.test(text)) return -1;
  const n = Number(text);
  return n > 65535 ? -1 : n;
}

function v1Error(reason: string): ProxyHeader {
  return { kind: "error", version: 1, reason };
}

function v2Error(reason: string): ProxyHeader {
  return { kind: "error", version: 2, reason };
}

function parseV2(data: Buffer): ProxyHeader {
  const versionCommand = data[12]!;
  if (versionCommand >> 4 !== 2) return v2Error(`version ${versionCommand >> 4}, expected 2`);
  const command = versionCommand & 0x0f;
  if (command > 1) return v2Error(`command ${command}, expected LOCAL (0) or PROXY (1)`);
  const familyProtocol = data[13]!;
  const bodyLength = data.readUInt16BE(14);
  const length = V2_FIXED + bodyLength;
  if (data.length < length) return INCOMPLETE;
  // LOCAL: the balancer's own connection (a health check); whatever follows the fixed part is skipped.
  if (command === 0) return { kind: "header", version: 2, length, addresses: undefined };
  const family = familyProtocol >> 4;
  const protocol = familyProtocol & 0x0f;
  if (family === 0) return { kind: "header", version: 2, length, addresses: undefined };
  if (protocol !== 1) return v2Error(`transport protocol ${protocol}: only STREAM (TCP) is proxied`);
  if (family === 1) {
    if (bodyLength < 12) return v2Error(`an IPv4 address block needs 12 bytes, the header has ${bodyLength}`);
    return {
      kind: "header",
      version: 2,
      length,
      addresses: {
        sourceAddress: ipv4(data, 16),
        destinationAddress: ipv4(data, 20),
        sourcePort: data.readUInt16BE(24),
        destinationPort: data.readUInt16BE(26),
      },
    };
  }
  if (family === 2) {
    if (bodyLength < 36) return v2Error(`an IPv6 address block needs 36 bytes, the header has ${bodyLength}`);
    return {
      kind: "header",
      version: 2,
      length,
      addresses: {
        sourceAddress: ipv6(data, 16),
        destinationAddress: ipv6(data, 32),
        sourcePort: data.readUInt16BE(48),
        destinationPort: data.readUInt16BE(50),
      },
    };
  }
  return v2Error(`address family ${family}: only INET and INET6 are proxied`);
}

function ipv4(data: Buffer, at: number): string {
  return `${data[at]}.${data[at + 1]}.${data[at + 2]}.${data[at + 3]}`;
}

function ipv6(data: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(data.readUInt16BE(at + 2 * i).toString(16));
  // The canonical form (RFC 5952), which is what node reports for a socket: the longest run of zeros becomes "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}

export class ProxyProtocolStats {
  readonly notFoundAllowed: Counter;
  readonly notFoundDisallowed: Counter;
  readonly found: readonly [Counter, Counter];
  readonly disallowed: readonly [Counter, Counter];
  readonly error: readonly [Counter, Counter];

  constructor(store: StatsStore) {
    const counter = (name: string, help: string): Counter => store.counter(`envoy_proxy_proto_${name}`, help);
    this.notFoundAllowed = counter(
      "not_found_allowed",
      "Total connections without a PROXY protocol header, let through (allow_requests_without_proxy_protocol)",
    );
    this.notFoundDisallowed = counter(
      "not_found_disallowed",
      "Total connections without a PROXY protocol header, closed",
    );
    const versioned = (v: string, name: string, help: string): Counter =>
      counter(`versions_${v}_${name}`, `${help} (PROXY protocol ${v})`);
    this.found = [versioned("v1", "found", "Total headers found"), versioned("v2", "found", "Total headers found")];
    this.disallowed = [
      versioned("v1", "disallowed", "Total headers of a disallowed version, connection closed"),
      versioned("v2", "disallowed", "Total headers of a disallowed version, connection closed"),
    ];
    this.error = [
      versioned("v1", "error", "Total malformed headers, connection closed"),
      versioned("v2", "error", "Total malformed headers, connection closed"),
    ];
  }
}

export interface ProxyProtocolOptions {
  allowWithout: boolean;
  disallowedVersions: readonly (1 | 2)[];
}

export class ProxyProtocolFilter implements ListenerFilterRuntime {
  constructor(
    private readonly options: ProxyProtocolOptions,
    private readonly stats: ProxyProtocolStats,
  ) {}

  inspect(data: Buffer, props: ConnectionProperties, conn: InspectContext): InspectResult {
    const header = parseProxyHeader(data);
    switch (header.kind) {
      case "incomplete":
        return "more";
      case "not_proxy":
        if (!this.options.allowWithout) {
          this.stats.notFoundDisallowed.inc();
          return "close";
        }
        this.stats.notFoundAllowed.inc();
        return "done";
      case "error":
        this.stats.error[header.version - 1]!.inc();
        return "close";
      case "header": {
        if (this.options.disallowedVersions.includes(header.version)) {
          this.stats.disallowed[header.version - 1]!.inc();
          return "close";
        }
        this.stats.found[header.version - 1]!.inc();
        conn.consume(header.length);
        const a = header.addresses;
        if (a !== undefined) {
          restoreAddresses(conn.socket, a);
          props.destinationPort = a.destinationPort;
          props.destinationAddress = a.destinationAddress;
          props.sourceAddress = a.sourceAddress;
        }
        return "done";
      }
    }
  }
}

/**
 * The connection's addresses become the header's, for everyone who reads them from the socket afterwards (the
 * codecs, tcp_proxy, the HTTP/2 session's socket proxy, error reports): own properties shadow net.Socket's getters.
 */
function restoreAddresses(socket: net.Socket, a: ProxyAddresses): void {
  markRestored(socket);
  const family = isIPv4(a.sourceAddress) ? "IPv4" : "IPv6";
  // The peer that actually connected (the balancer), for %DOWNSTREAM_DIRECT_REMOTE_ADDRESS%.
  (socket as unknown as Record<symbol, DirectPeer>)[DIRECT_PEER] = {
    address: socket.remoteAddress ?? "",
    port: socket.remotePort ?? 0,
  };
  Object.defineProperties(socket, {
    remoteAddress: { value: a.sourceAddress, configurable: true },
    remotePort: { value: a.sourcePort, configurable: true },
    remoteFamily: { value: family, configurable: true },
    localAddress: { value: a.destinationAddress, configurable: true },
    localPort: { value: a.destinationPort, configurable: true },
  });
}

export interface DirectPeer {
  address: string;
  port: number;
}

const DIRECT_PEER = Symbol("trellis.directPeer");

/** The peer that connected, when a PROXY protocol header gave the connection other addresses; else undefined. */
export function directPeerOf(socket: object): DirectPeer | undefined {
  return (socket as Record<symbol, DirectPeer | undefined>)[DIRECT_PEER];
}
