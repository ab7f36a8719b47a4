// The original destination of a connection that iptables (or nftables) redirected to this proxy: the address and
// port the client dialled before a `nat` REDIRECT/DNAT rewrote them, as Envoy's `original_dst` listener filter reads
// it. Linux keeps it in the connection's conntrack entry and hands it out through
// `getsockopt(fd, SOL_IP, SO_ORIGINAL_DST)` (IPv6: `SOL_IPV6, IP6T_SO_ORIGINAL_DST`). Node has no getsockopt, so libc's
// is called through koffi, loaded the first time a listener asks (never at import: a proxy that captures nothing
// never loads it). Where that cannot work — not Linux, no koffi binary, no libc.so.6, a socket without a file
// descriptor — the answer is `undefined` and a counter says why; nothing throws.
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import type * as Koffi from "koffi";
import type { Counter, StatsStore } from "../../telemetry/stats.ts";
import type { ConnectionProperties } from "./filter-chain-selector.ts";
import type { InspectContext, InspectResult, ListenerFilterRuntime } from "./listener-filter.ts";

/** Linux's constants (<linux/in.h>, <linux/netfilter_ipv4.h>, <linux/netfilter_ipv6/ip6_tables.h>). */
export const SOL_IP = 0;
export const SOL_IPV6 = 41;
export const SO_ORIGINAL_DST = 80;
export const IP6T_SO_ORIGINAL_DST = 80;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;

export interface OriginalDestination {
  address: string;
  port: number;
}

/** getsockopt(2) with the buffer and its length as the kernel fills them; returns the call's result and errno. */
export type GetSockOpt = (
  fd: number,
  level: number,
  name: number,
  value: Buffer,
  length: Buffer,
) => { result: number; errno: number };

/** Why the original destination could not be read at all (as opposed to a connection that was not redirected). */
export class OriginalDestinationUnavailable extends Error {
  readonly code = "ORIGINAL_DST_UNAVAILABLE";
  constructor(readonly reason: string) {
    super(`the original destination of captured connections cannot be read: ${reason}`);
    this.name = "OriginalDestinationUnavailable";
  }
}

export class OriginalDestinationStats {
  /** A redirected connection whose original destination was read. */
  readonly found: Counter;
  /** getsockopt failed: the connection was not redirected (ENOENT: no conntrack entry) or the socket has no fd. */
  readonly notFound: Counter;
  /** The lookup cannot work on this host (not Linux, koffi or libc.so.6 missing). */
  readonly unavailable: Counter;

  constructor(store: StatsStore) {
    const counter = (name: string, help: string): Counter => store.counter(`trellis_original_dst_${name}`, help);
    this.found = counter("found", "Total connections whose original destination (SO_ORIGINAL_DST) was read");
    this.notFound = counter(
      "not_found",
      "Total connections with no original destination (not redirected, or getsockopt failed)",
    );
    this.unavailable = counter(
      "unavailable",
      "Total connections whose original destination could not be looked up on this host (not Linux, or no libc/koffi)",
    );
  }
}

let loaded: GetSockOpt | OriginalDestinationUnavailable | undefined;

/** Loads libc's getsockopt through koffi once; the failure, if any, is kept and returned each time after. */
export function loadGetSockOpt(): GetSockOpt | OriginalDestinationUnavailable {
  if (loaded !== undefined) return loaded;
  loaded = bind();
  return loaded;
}

function bind(): GetSockOpt | OriginalDestinationUnavailable {
  if (process.platform !== "linux")
    return new OriginalDestinationUnavailable(`platform ${process.platform} is not Linux`);
  let koffi: typeof Koffi;
  try {
    koffi = createRequire(import.meta.url)("koffi") as typeof Koffi;
  } catch (err) {
    return new OriginalDestinationUnavailable(`koffi did not load: ${(err as Error).message}`);
  }
  try {
    const libc = koffi.load("libc.so.6");
    const fn = libc.func("int getsockopt(int fd, int level, int name, void *value, void *length)");
    return (fd, level, name, value, length) => {
      const result = fn(fd, level, name, value, length) as number;
      return { result, errno: result === 0 ? 0 : koffi.errno() };
    };
  } catch (err) {
    return new OriginalDestinationUnavailable(`libc.so.6 getsockopt did not load: ${(err as Error).message}`);
  }
}

/** The socket's file descriptor, where libuv has one (a TCP socket on Unix); undefined otherwise. */
function fdOf(socket: net.Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/**
 * The address and port a redirected connection was first sent to, or undefined when there is none (the connection
 * was not redirected, the socket is closed) or it cannot be read here; `stats`, when given, counts which.
 * `getsockopt` is for tests that stand in for the kernel.
 */
export function originalDestination(
  socket: net.Socket,
  stats?: OriginalDestinationStats,
  getsockopt: GetSockOpt | OriginalDestinationUnavailable = loadGetSockOpt(),
): OriginalDestination | undefined {
  if (getsockopt instanceof OriginalDestinationUnavailable) {
    stats?.unavailable.inc();
    return undefined;
  }
  const fd = fdOf(socket);
  if (fd === undefined) {
    stats?.notFound.inc();
    return undefined;
  }
  // A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d; its conntrack entry is IPv4, asked at SOL_IP.
  const local = socket.localAddress ?? "";
  const v6 = net.isIPv6(local) && !/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(local);
  const value = Buffer.alloc(v6 ? SOCKADDR_IN6_SIZE : SOCKADDR_IN_SIZE);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(value.length);
  let r: { result: number; errno: number };
  try {
    r = v6
      ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, value, length)
      : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, value, length);
  } catch {
    stats?.notFound.inc();
    return undefined;
  }
  const parsed = r.result === 0 ? parseSockaddr(value, length.readUInt32LE()) : undefined;
  if (parsed === undefined) {
    stats?.notFound.inc();
    return undefined;
  }
  stats?.found.inc();
  return parsed;
}

/** A sockaddr_in or sockaddr_in6 as the kernel writes it: the family in host order, port and address in network order. */
export function parseSockaddr(buf: Buffer, length: number): OriginalDestination | undefined {
  if (length < 2 || length > buf.length) return undefined;
  const family = os.endianness() === "LE" ? buf.readUInt16LE(0) : buf.readUInt16BE(0);
  if (family === AF_INET && length >= 8) {
    return { address: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port: buf.readUInt16BE(2) };
  }
  if (family === AF_INET6 && length >= 24) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(8 + 2 * i).toString(16));
    // SocketAddress writes the canonical form (RFC 5952), the one node reports for a socket's own addresses.
    const address = new net.SocketAddress({ address: groups.join(":"), family: "ipv6" }).address;
    return { address, port: buf.readUInt16BE(2) };
  }
  return undefined;
}

/**
 * envoy.filters.listener.original_dst: a redirected connection's local address and port become its original
 * destination, before a filter chain is chosen, so `destination_port` matches the port the client dialled and
 * everyone who reads the socket's local address afterwards (access logs, tcp_proxy, error reports) sees it. It needs
 * no bytes: a server-first protocol is not held up. A connection with no original destination (not redirected, or
 * not readable here: counted) keeps its own addresses, as in Envoy.
 */
export class OriginalDstFilter implements ListenerFilterRuntime {
  constructor(
    private readonly stats: OriginalDestinationStats,
    private readonly getsockopt?: GetSockOpt | OriginalDestinationUnavailable,
  ) {}

  inspect(_data: Buffer, props: ConnectionProperties, conn: InspectContext): InspectResult {
    const original = originalDestination(conn.socket, this.stats, this.getsockopt ?? loadGetSockOpt());
    if (original === undefined) return "done";
    markRestored(conn.socket);
    Object.defineProperties(conn.socket, {
      localAddress: { value: original.address, configurable: true },
      localPort: { value: original.port, configurable: true },
    });
    props.destinationPort = original.port;
    props.destinationAddress = original.address;
    return "done";
  }
}

const RESTORED_FROM = Symbol("trellis.restoredFrom");

/**
 * Envoy's localAddressRestored: a listener filter (original_dst, proxy_protocol) replaced the connection's local
 * address with the one the client meant. Call before the socket's localAddress is shadowed: the address the
 * connection actually reached (the listener's own) is kept, so a connection that was not redirected at all — its
 * original destination is the listener itself — can be told apart (the loop guard of an ORIGINAL_DST cluster).
 */
export function markRestored(socket: net.Socket): void {
  const holder = socket as unknown as Record<symbol, OriginalDestination | undefined>;
  holder[RESTORED_FROM] ??= { address: socket.localAddress ?? "", port: socket.localPort ?? 0 };
}

/** The address the connection actually reached, when its local address was restored (else undefined). */
export function restoredFrom(socket: object): OriginalDestination | undefined {
  return (socket as Record<symbol, OriginalDestination | undefined>)[RESTORED_FROM];
}
