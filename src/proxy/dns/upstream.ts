// Forwarding what the table does not answer to the upstream resolvers, as Istio's agent does: in the order given,
// over UDP (a fresh socket per query, connected to the resolver, so a dead one is known at once by its ICMP
// refusal) and again over TCP when the answer comes back truncated; over TCP at once when the query came over TCP.
// The forwarded query carries a fresh random ID, mapped back to the client's on the way out, and an answer counts
// only if it comes from that resolver, carries that ID and repeats the question: concurrent queries never get each
// other's answers. Each resolver gets an equal share of the timeout (default 5 s); a failure or its share running
// out moves on to the next; when none answers, the client gets SERVFAIL.

import { randomInt } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { isIP, isIPv6, connect, type Socket } from "node:net";
import { TrellisError } from "../../api/errors.ts";
import { parseMessage, type DnsMessage, type DnsQuestion } from "./message.ts";

export interface Upstream {
  host: string;
  port: number;
}

/** A --dns-upstream list that cannot be read. */
export class DnsUpstreamError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_DNS_UPSTREAM", message);
  }
}

/** Parses "HOST[:PORT],[V6]:PORT,…" (port default 53; hosts are IP addresses). */
export function parseUpstreams(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const raw of text.split(",")) {
    const s = raw.trim();
    let host: string;
    let port = "53";
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
    if (v6) {
      host = v6[1]!;
      port = v6[2] ?? "53";
    } else if (isIPv6(s)) host = s;
    else {
      const colon = s.lastIndexOf(":");
      host = colon < 0 ? s : s.slice(0, colon);
      if (colon >= 0) port = s.slice(colon + 1);
    }
    const n = Number(port);
    if (isIP(host) === 0 || !/^\d{1,5}$/.test(port) || n < 1 || n > 65535)
      throw new DnsUpstreamError(`expected IP[:PORT] or [IPV6]:PORT (port 1-65535), got "${s}"`);
    out.push({ host, port: n });
  }
  return out;
}

/** The nameservers of a resolv.conf (port 53), in order; [] when there are none or the file cannot be read. */
export function resolvConfUpstreams(path = "/etc/resolv.conf"): Upstream[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const out: Upstream[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1]!.replace(/%.*$/, ""); // a zone index (fe80::1%eth0) is not ours to use
    if (isIP(host) !== 0) out.push({ host, port: 53 });
  }
  return out;
}

/** Why one exchange with one resolver failed. */
export class UpstreamExchangeError extends Error {}

function sameQuestion(a: DnsQuestion | undefined, b: DnsQuestion | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.type === b.type &&
    a.class === b.class &&
    a.name.toLowerCase() === b.name.toLowerCase()
  );
}

/** The answer to `query` (parsed as `parsed`, ID `id`) if `packet` is one; undefined for anything else. */
function answerTo(packet: Uint8Array, id: number, parsed: DnsMessage): DnsMessage | undefined {
  try {
    const m = parseMessage(packet);
    if (!m.header.response || m.header.id !== id) return undefined;
    if (parsed.questions.length > 0 && !sameQuestion(m.questions[0], parsed.questions[0])) return undefined;
    return m;
  } catch {
    return undefined;
  }
}

export interface Exchanged {
  bytes: Uint8Array;
  message: DnsMessage;
}

/** One query over UDP to one resolver; rejects on an error (a refused port), on timeout, never hangs. */
export function udpExchange(
  up: Upstream,
  query: Uint8Array,
  id: number,
  parsed: DnsMessage,
  timeoutMs: number,
): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    let socket: UdpSocket | undefined;
    let done = false;
    const finish = (err: Error | undefined, value?: Exchanged): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        socket?.close();
      } catch {
        // already closed
      }
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(
      () => finish(new UpstreamExchangeError(`${up.host}:${up.port} (udp): no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      socket = createSocket(isIPv6(up.host) ? "udp6" : "udp4");
    } catch (err) {
      finish(err as Error);
      return;
    }
    socket.on("error", (err) => finish(new UpstreamExchangeError(`${up.host}:${up.port} (udp): ${err.message}`)));
    socket.on("message", (msg) => {
      const m = answerTo(msg, id, parsed);
      if (m !== undefined) finish(undefined, { bytes: msg, message: m });
    });
    socket.connect(up.port, up.host, () => {
      socket!.send(query, (err) => {
        if (err) finish(new UpstreamExchangeError(`${up.host}:${up.port} (udp): ${err.message}`));
      });
    });
  });
}

/** One query over TCP (RFC 1035 §4.2.2: a 2-byte length before each message) to one resolver. */
export function tcpExchange(
  up: Upstream,
  query: Uint8Array,
  id: number,
  parsed: DnsMessage,
  timeoutMs: number,
): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined, value?: Exchanged): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(
      () => finish(new UpstreamExchangeError(`${up.host}:${up.port} (tcp): no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    let buffered: Buffer = Buffer.alloc(0);
    const socket: Socket = connect({ host: up.host, port: up.port }, () => {
      const framed = Buffer.alloc(2 + query.length);
      framed.writeUInt16BE(query.length, 0);
      framed.set(query, 2);
      socket.write(framed);
    });
    socket.on("error", (err) => finish(new UpstreamExchangeError(`${up.host}:${up.port} (tcp): ${err.message}`)));
    socket.on("close", () => finish(new UpstreamExchangeError(`${up.host}:${up.port} (tcp): closed before answering`)));
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) return;
        const msg = Uint8Array.from(buffered.subarray(2, 2 + len));
        buffered = buffered.subarray(2 + len);
        const m = answerTo(msg, id, parsed);
        if (m !== undefined) {
          finish(undefined, { bytes: msg, message: m });
          return;
        }
      }
    });
  });
}

/** A fresh random query ID (unpredictable, so an off-path sender cannot guess it). */
export function randomId(): number {
  return randomInt(0, 0x10000);
}
