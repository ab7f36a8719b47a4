// The upstream transport socket envoy.transport_sockets.upstream_proxy_protocol (around raw_buffer): every upstream
// connection of the cluster starts with a PROXY protocol header, then carries its bytes unchanged. What the header
// says, as Envoy's: a tcp_proxy session passes its downstream connection's addresses (source = the client, destination
// = the address it reached the proxy on); without downstream addresses (HTTP pools, whose connections serve many
// clients) a V1 header names the upstream connection's own local and remote addresses, and a V2 header is the LOCAL
// command.

import { isIPv4 } from "node:net";
import type net from "node:net";
import { V2_SIGNATURE, type ProxyAddresses } from "../listener/proxy-protocol.ts";
import type { UpstreamConnect } from "./connect.ts";

export type ProxyProtocolVersion = 1 | 2;

/** V2's LOCAL command with no addresses (Envoy's generateV2LocalHeader). */
export const V2_LOCAL_HEADER = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);

function stripV4Mapped(address: string): string {
  return address.startsWith("::ffff:") && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** The header for `a` (both addresses of one family; an IPv4 one against an IPv6 one is written as IPv6). */
export function proxyProtocolHeader(version: ProxyProtocolVersion, a: ProxyAddresses): Buffer {
  let src = stripV4Mapped(a.sourceAddress);
  let dst = stripV4Mapped(a.destinationAddress);
  const v4 = isIPv4(src) && isIPv4(dst);
  if (!v4) {
    if (isIPv4(src)) src = "::ffff:" + src;
    if (isIPv4(dst)) dst = "::ffff:" + dst;
  }
  if (version === 1)
    return Buffer.from(
      `PROXY ${v4 ? "TCP4" : "TCP6"} ${src} ${dst} ${a.sourcePort} ${a.destinationPort}\r\n`,
      "latin1",
    );
  const body = Buffer.alloc(v4 ? 12 : 36);
  if (v4) {
    writeV4(body, 0, src);
    writeV4(body, 4, dst);
    body.writeUInt16BE(a.sourcePort, 8);
    body.writeUInt16BE(a.destinationPort, 10);
  } else {
    writeV6(body, 0, src);
    writeV6(body, 16, dst);
    body.writeUInt16BE(a.sourcePort, 32);
    body.writeUInt16BE(a.destinationPort, 34);
  }
  const fixed = Buffer.from([0x21, v4 ? 0x11 : 0x21, 0, 0]);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

function writeV4(out: Buffer, at: number, address: string): void {
  const parts = address.split(".");
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

function writeV6(out: Buffer, at: number, address: string): void {
  // Expand "::" and an embedded IPv4 tail into eight 16-bit groups.
  let text = address;
  const tail = text.lastIndexOf(":");
  const last = text.slice(tail + 1);
  if (isIPv4(last)) {
    const p = last.split(".").map(Number);
    text = `${text.slice(0, tail + 1)}${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = rest === undefined || rest === "" ? [] : rest.split(":");
  const groups =
    rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(parseInt(groups[i] ?? "0", 16), at + 2 * i);
}

interface WritableInternals {
  _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void;
  _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], cb: (err?: Error | null) => void): void;
}

/**
 * Makes `header(socket)` the first bytes `socket` sends, computed once it is connected (its local address is known
 * then). Writes made before (an HTTP/1.1 request queued while connecting) wait and follow the header in one writev;
 * with none, the header is written as the connection opens, before an HTTP/2 session takes the socket's handle over.
 */
export function sendHeaderFirst(socket: net.Socket, header: (socket: net.Socket) => Buffer): void {
  const s = socket as unknown as WritableInternals;
  const write = s._write;
  const writev = s._writev;
  let held: { chunks: { chunk: Buffer; encoding: BufferEncoding }[]; cb: (err?: Error | null) => void } | undefined;
  let done = false;
  s._write = function (chunk, encoding, cb) {
    if (done) return write.call(this, chunk, encoding, cb);
    held = { chunks: [{ chunk, encoding }], cb };
  };
  s._writev = function (chunks, cb) {
    if (done) return writev.call(this, chunks, cb);
    held = { chunks: [...chunks], cb };
  };
  // Registered before anyone else can listen: runs first when the connection opens.
  socket.once("connect", () => {
    done = true;
    s._write = write;
    s._writev = writev;
    const first = { chunk: header(socket), encoding: "buffer" as BufferEncoding };
    if (held === undefined) write.call(socket, first.chunk, first.encoding, noop);
    else writev.call(socket, [first, ...held.chunks], held.cb);
    held = undefined;
  });
}

function noop(): void {}

/**
 * A cluster's connector with the PROXY protocol header first; no downstream addresses (HTTP pools): V1 names the
 * connection's own addresses, V2 is the LOCAL command.
 */
export function proxyProtocolConnector(inner: UpstreamConnect, version: ProxyProtocolVersion): UpstreamConnect {
  return (host, port, onData) => {
    const socket = inner(host, port, onData);
    sendOwnProxyHeader(socket, version, host, port);
    return socket;
  };
}

/**
 * The header of a connection with no downstream (a pool's, a health check's): V1 names the connection's own
 * addresses, V2 is the LOCAL command.
 */
export function sendOwnProxyHeader(
  socket: net.Socket,
  version: ProxyProtocolVersion,
  host: string,
  port: number,
): void {
  sendHeaderFirst(socket, (s) =>
    version === 2
      ? V2_LOCAL_HEADER
      : proxyProtocolHeader(1, {
          sourceAddress: s.localAddress ?? "",
          sourcePort: s.localPort ?? 0,
          destinationAddress: s.remoteAddress ?? host,
          destinationPort: s.remotePort ?? port,
        }),
  );
}

/** tcp_proxy: the header carries the downstream connection's addresses (as Envoy's tcp_proxy passes them on). */
export function sendDownstreamProxyHeader(
  upstream: net.Socket,
  version: ProxyProtocolVersion,
  downstream: net.Socket,
): void {
  const a: ProxyAddresses = {
    sourceAddress: downstream.remoteAddress ?? "",
    sourcePort: downstream.remotePort ?? 0,
    destinationAddress: downstream.localAddress ?? "",
    destinationPort: downstream.localPort ?? 0,
  };
  sendHeaderFirst(upstream, () => proxyProtocolHeader(version, a));
}
