// A resolver of the test's own, on 127.0.0.1 (UDP and TCP on one port), standing in for the resolvers of
// /etc/resolv.conf behind the sidecar's DNS proxy. It records every query it gets (protocol, ID, question, whether
// it carried EDNS OPT) and answers by a rule of the test's; a rule may hold answers back (to answer out of order).

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import {
  buildMessage,
  CLASS_IN,
  optRecord,
  parseMessage,
  RCODE,
  TYPE,
  type DnsMessage,
  type OutRecord,
} from "../../src/proxy/dns/message.ts";

export interface SeenQuery {
  proto: "udp" | "tcp";
  id: number;
  name: string;
  type: number;
  opt: boolean;
}

export interface FakeAnswer {
  rcode?: number;
  answers?: OutRecord[];
  truncated?: boolean;
}

/** What to answer (undefined: stay silent); may be a promise, so a test can hold an answer back. */
export type FakeRule = (q: SeenQuery) => FakeAnswer | undefined | Promise<FakeAnswer | undefined>;

/** Answers A for any name with 192.0.2.1 (TEST-NET-1), NXDOMAIN for names under nx.test. */
export const defaultRule: FakeRule = (q) => {
  if (q.name.toLowerCase().endsWith("nx.test")) return { rcode: RCODE.NXDOMAIN };
  if (q.type !== TYPE.A) return {};
  return { answers: [{ name: q.name, type: TYPE.A, ttl: 60, address: "192.0.2.1" }] };
};

export class FakeResolver {
  readonly seen: SeenQuery[] = [];
  port = 0;
  rule: FakeRule = defaultRule;
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly sockets = new Set<Socket>();

  /** Listens on `host` at `port` (0: a port free for both UDP and TCP). */
  async start(host = "127.0.0.1", wanted = 0): Promise<this> {
    for (;;) {
      const udp = createSocket("udp4");
      await new Promise<void>((r) => udp.bind(wanted, host, () => r()));
      const port = udp.address().port;
      const tcp = createServer((s) => this.onTcp(s));
      const ok = await new Promise<boolean>((resolve) => {
        tcp.once("error", () => resolve(false));
        tcp.listen(port, host, () => resolve(true));
      });
      if (!ok) {
        udp.close();
        if (wanted !== 0) throw new Error(`fake resolver: TCP port ${wanted} is taken`);
        continue;
      }
      udp.on("message", (msg, rinfo) => {
        void this.answer(msg, "udp").then((out) => {
          if (out !== undefined) udp.send(out, rinfo.port, rinfo.address);
        });
      });
      this.udp = udp;
      this.tcp = tcp;
      this.port = port;
      return this;
    }
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r()));
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
  }

  private onTcp(s: Socket): void {
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => {});
    let buf: Buffer = Buffer.alloc(0);
    s.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = Uint8Array.from(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + msg.length);
        void this.answer(msg, "tcp").then((out) => {
          if (out === undefined || s.destroyed) return;
          const framed = Buffer.alloc(2 + out.length);
          framed.writeUInt16BE(out.length, 0);
          framed.set(out, 2);
          s.write(framed);
        });
      }
    });
  }

  private async answer(msg: Uint8Array, proto: "udp" | "tcp"): Promise<Uint8Array | undefined> {
    let m: DnsMessage;
    try {
      m = parseMessage(msg);
    } catch {
      return undefined;
    }
    const q = m.questions[0]!;
    const seen: SeenQuery = { proto, id: m.header.id, name: q.name, type: q.type, opt: optRecord(m) !== undefined };
    this.seen.push(seen);
    const a = await this.rule(seen);
    if (a === undefined) return undefined;
    return buildMessage({
      header: {
        id: m.header.id,
        response: true,
        recursionDesired: m.header.recursionDesired,
        recursionAvailable: true,
        truncated: a.truncated ?? false,
        rcode: a.rcode ?? RCODE.NOERROR,
      },
      questions: m.questions,
      answers: a.answers ?? [],
      additionals: seen.opt ? [{ name: "", type: TYPE.OPT, class: 4096, ttl: 0, data: new Uint8Array() }] : [],
    });
  }
}

/** A query of our own (hand-built, so the test knows its ID). */
export function query(id: number, name: string, type: number = TYPE.A, edns?: number): Uint8Array {
  return buildMessage({
    header: { id, recursionDesired: true },
    questions: [{ name, type, class: CLASS_IN }],
    additionals: edns === undefined ? [] : [{ name: "", type: TYPE.OPT, class: edns, ttl: 0, data: new Uint8Array() }],
  });
}

/** A UDP client socket that collects every datagram it receives. */
export class UdpClient {
  readonly received: Uint8Array[] = [];
  private readonly socket = createSocket("udp4");
  private waiters: (() => void)[] = [];

  async open(): Promise<this> {
    await new Promise<void>((r) => this.socket.bind(0, "127.0.0.1", () => r()));
    this.socket.on("message", (m) => {
      this.received.push(Uint8Array.from(m));
      for (const w of this.waiters.splice(0)) w();
    });
    return this;
  }

  send(port: number, packet: Uint8Array): void {
    this.socket.send(packet, port, "127.0.0.1");
  }

  /** Waits until `n` datagrams have arrived in all. */
  async waitFor(n: number): Promise<void> {
    while (this.received.length < n) await new Promise<void>((r) => this.waiters.push(r));
  }

  close(): void {
    this.socket.close();
  }
}

/** One TCP connection to the DNS proxy, speaking length-prefixed messages. */
export class TcpClient {
  readonly received: Uint8Array[] = [];
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private socket: Socket | undefined;

  async open(port: number): Promise<this> {
    const { connect } = await import("node:net");
    await new Promise<void>((resolve, reject) => {
      this.socket = connect({ host: "127.0.0.1", port }, () => resolve());
      this.socket.once("error", reject);
    });
    this.socket!.on("data", (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
        const len = this.buf.readUInt16BE(0);
        this.received.push(Uint8Array.from(this.buf.subarray(2, 2 + len)));
        this.buf = this.buf.subarray(2 + len);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket!.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    return this;
  }

  /** Sends a message with its 2-byte length (or raw bytes as they are, with `raw`). */
  send(packet: Uint8Array, raw = false): void {
    if (raw) {
      this.socket!.write(packet);
      return;
    }
    const framed = Buffer.alloc(2 + packet.length);
    framed.writeUInt16BE(packet.length, 0);
    framed.set(packet, 2);
    this.socket!.write(framed);
  }

  async waitFor(n: number): Promise<void> {
    while (this.received.length < n && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  close(): void {
    this.socket?.destroy();
  }
}
