// The sidecar's DNS proxy (Istio's agent DNS proxy, istio/istio pkg/dns/client): UDP and TCP on one address
// (trellis proxy --dns 127.0.0.1:15053; the namespace's iptables send the app's port-53 traffic there). A query
// for a mesh name is answered from the lookup table (table.ts) built from the control plane's NameTable (NDS);
// anything else is forwarded to the upstream resolvers (upstream.ts) and the answer relayed as it came, but for
// its ID. Until the first NameTable arrives (when the proxy is fed by xDS), queries are answered SERVFAIL, as
// Istio's agent does, so the app retries rather than caching a wrong answer.
//
// Hostile input: a packet shorter than a header, or a response, is dropped; a malformed query is answered FORMERR
// (message.ts checks every bound); nothing a client sends ends the process. TCP (RFC 7766): several queries per
// connection, answered as they complete, the connection closed after an idle timeout (default 10 s).

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, isIPv6, type Server, type Socket } from "node:net";
import type { StatsStore, Counter, Histogram } from "../../telemetry/stats.ts";
import {
  buildMessage,
  DnsFormatError,
  OPCODE_QUERY,
  optRecord,
  parseMessage,
  RCODE,
  readHeader,
  TYPE,
  udpSizeOf,
  withId,
  type DnsHeader,
  type DnsMessage,
  type OutRecord,
} from "./message.ts";
import { LookupTable, type LookupOptions } from "./table.ts";
import { randomId, tcpExchange, udpExchange, type Exchanged, type Upstream } from "./upstream.ts";

export const DEFAULT_DNS_PORT = 15053;
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 5000;
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 10_000;
/** Forwarded queries in flight at once (each holds a socket): beyond, SERVFAIL at once rather than run out of fds. */
export const DEFAULT_MAX_IN_FLIGHT = 1024;
/** TCP connections at once: beyond, a new one is closed. */
export const DEFAULT_MAX_TCP_CONNECTIONS = 256;
/** The UDP payload size this proxy advertises in its own OPT record (the DNS flag day's 1232). */
const OUR_UDP_SIZE = 1232;

/** The DNS proxy's counters, under Istio's agent names (istio_agent_dns_* there) without the prefix. */
export class DnsStats {
  readonly requests: Counter;
  readonly upstreamRequests: Counter;
  readonly upstreamFailures: Counter;
  readonly upstreamDuration: Histogram;
  readonly tableAnswers: Counter;
  readonly malformed: Counter;
  readonly overflow: Counter;
  constructor(store: StatsStore) {
    this.requests = store.counter("dns_requests", "DNS queries received by the DNS proxy");
    this.upstreamRequests = store.counter("dns_upstream_requests", "DNS queries forwarded to an upstream resolver");
    this.upstreamFailures = store.counter(
      "dns_upstream_failures",
      "Forwarded DNS queries an upstream resolver did not answer (error or timeout)",
    );
    this.upstreamDuration = store.histogram(
      "dns_upstream_request_duration",
      "Time to an upstream resolver's answer, in milliseconds",
    );
    this.tableAnswers = store.counter("dns_table_answers", "DNS queries answered from the mesh's name table");
    this.malformed = store.counter("dns_malformed", "DNS packets dropped or answered FORMERR as malformed");
    this.overflow = store.counter(
      "dns_overflow",
      "DNS queries answered SERVFAIL, or TCP connections closed, because too many were in flight",
    );
  }
}

export interface DnsProxyOptions extends LookupOptions {
  /** Where to listen, UDP and TCP (port 0: any free port, the same for both). */
  address: string;
  port: number;
  upstreams: readonly Upstream[];
  stats: StatsStore;
  /** Until the first table: undefined answers SERVFAIL (a proxy fed by xDS); else this table (a static proxy). */
  table?: LookupTable;
  timeoutMs?: number;
  tcpIdleTimeoutMs?: number;
  maxInFlight?: number;
  maxTcpConnections?: number;
  log?: (line: string) => void;
  now?: () => number;
}

export class DnsProxy {
  readonly stats: DnsStats;
  private table: LookupTable | undefined;
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<Socket>();
  private boundPort = 0;
  private readonly timeoutMs: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  private readonly upstreams: readonly Upstream[];
  /** IDs of the queries being forwarded: a new one never reuses one in flight. */
  private readonly inFlight = new Set<number>();

  constructor(private readonly options: DnsProxyOptions) {
    this.stats = new DnsStats(options.stats);
    this.table = options.table;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
    this.idleMs = options.tcpIdleTimeoutMs ?? DEFAULT_TCP_IDLE_TIMEOUT_MS;
    this.now = options.now ?? (() => performance.now());
    this.upstreams = options.upstreams;
  }

  /** The address and port both sockets are bound to (after start()). */
  get address(): { address: string; port: number } {
    return { address: this.options.address, port: this.boundPort };
  }

  /** Whether a NameTable has been applied (or a static table given). */
  get ready(): boolean {
    return this.table !== undefined;
  }

  /**
   * Builds and swaps in the table from a NameTable response (what the xDS client applies). Throws NameTableError
   * naming host and field for a bad one; the last good table keeps answering.
   */
  applyNameTable(resources: readonly Record<string, unknown>[]): void {
    this.table = LookupTable.build(resources, this.options);
  }

  /** Binds UDP and TCP on the same port; with port 0, a port free for both. */
  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket({ type: isIPv6(this.options.address) ? "udp6" : "udp4" });
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(this.options.port, this.options.address, () => {
          udp.off("error", reject);
          resolve();
        });
      });
      const port = udp.address().port;
      const tcp = createServer((s) => this.onConnection(s));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once("error", reject);
          tcp.listen(port, this.options.address, () => {
            tcp.off("error", reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        // Port 0 picked a UDP port whose TCP twin is taken: try another.
        if (this.options.port === 0 && attempt < 10) continue;
        throw err;
      }
      udp.on("error", (err) => this.log(`udp: ${err.message}`));
      udp.on("message", (msg, rinfo) => {
        void this.handle(msg, false).then(
          (reply) => {
            if (reply === undefined || this.udp !== udp) return;
            try {
              udp.send(reply, rinfo.port, rinfo.address);
            } catch (err) {
              // A source no reply can go to (port 0 from a raw socket): nothing to answer.
              this.log(`udp reply to ${rinfo.address}:${rinfo.port}: ${(err as Error).message}`);
            }
          },
          (err: unknown) => this.log(`udp query from ${rinfo.address}:${rinfo.port}: ${String(err)}`),
        );
      });
      tcp.on("error", (err) => this.log(`tcp: ${err.message}`));
      this.udp = udp;
      this.tcp = tcp;
      this.boundPort = port;
      return;
    }
  }

  async close(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const s of this.connections) s.destroy();
    this.connections.clear();
    if (udp !== undefined) await new Promise<void>((r) => udp.close(() => r()));
    if (tcp !== undefined) await new Promise<void>((r) => tcp.close(() => r()));
  }

  private log(line: string): void {
    this.options.log?.(`dns: ${line}`);
  }

  private onConnection(socket: Socket): void {
    if (this.connections.size >= (this.options.maxTcpConnections ?? DEFAULT_MAX_TCP_CONNECTIONS)) {
      this.stats.overflow.inc();
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.idleMs, () => socket.destroy());
    socket.on("error", () => {});
    socket.on("close", () => this.connections.delete(socket));
    let buffered: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const query = Uint8Array.from(buffered.subarray(2, 2 + len));
        buffered = buffered.subarray(2 + len);
        void this.handle(query, true).then(
          (reply) => {
            if (reply === undefined || socket.destroyed) return;
            const framed = Buffer.alloc(2 + reply.length);
            framed.writeUInt16BE(reply.length, 0);
            framed.set(reply, 2);
            socket.write(framed);
          },
          (err: unknown) => this.log(`tcp query: ${String(err)}`),
        );
      }
    });
  }

  /** One query in, its answer out (undefined: dropped). Never rejects for anything a client sends. */
  async handle(packet: Uint8Array, viaTcp: boolean): Promise<Uint8Array | undefined> {
    const header = readHeader(packet);
    if (header === undefined || header.response) {
      this.stats.malformed.inc();
      return undefined;
    }
    let query: DnsMessage;
    try {
      query = parseMessage(packet);
    } catch (err) {
      if (!(err instanceof DnsFormatError)) throw err;
      this.stats.malformed.inc();
      return reply(header, { rcode: RCODE.FORMERR });
    }
    this.stats.requests.inc();
    if (header.opcode !== OPCODE_QUERY) return reply(header, { rcode: RCODE.NOTIMP, query });
    if (query.questions.length !== 1) {
      this.stats.malformed.inc();
      return reply(header, { rcode: RCODE.FORMERR, query });
    }
    const table = this.table;
    if (table === undefined) return reply(header, { rcode: RCODE.SERVFAIL, query });
    const q = query.questions[0]!;
    const found = table.lookup(q.name, q.type);
    if (found.found) {
      this.stats.tableAnswers.inc();
      const answer = reply(header, { rcode: RCODE.NOERROR, query, answers: found.answers, authoritative: true });
      if (!viaTcp && answer.length > udpSizeOf(query))
        return reply(header, { rcode: RCODE.NOERROR, query, authoritative: true, truncated: true });
      return answer;
    }
    return this.forward(packet, header, query, viaTcp);
  }

  /** Forwards to each upstream in turn (its share of the timeout each); SERVFAIL when none answers. */
  private async forward(
    packet: Uint8Array,
    header: DnsHeader,
    query: DnsMessage,
    viaTcp: boolean,
  ): Promise<Uint8Array> {
    if (this.inFlight.size >= (this.options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)) {
      this.stats.overflow.inc();
      return reply(header, { rcode: RCODE.SERVFAIL, query });
    }
    const share = this.upstreams.length === 0 ? 0 : this.timeoutMs / this.upstreams.length;
    const deadline = this.now() + this.timeoutMs;
    for (const up of this.upstreams) {
      const left = Math.min(share, deadline - this.now());
      if (left <= 0) break;
      let id = randomId();
      while (this.inFlight.has(id)) id = randomId();
      this.inFlight.add(id);
      const forwarded = withId(packet, id);
      const started = this.now();
      this.stats.upstreamRequests.inc();
      try {
        let got: Exchanged;
        if (viaTcp) got = await tcpExchange(up, forwarded, id, query, left);
        else {
          got = await udpExchange(up, forwarded, id, query, left);
          if (got.message.header.truncated) {
            // Truncated over UDP: the same question over TCP, in what is left of this resolver's share.
            const rest = Math.max(1, Math.min(share, deadline - this.now()) - (this.now() - started));
            got = await tcpExchange(up, forwarded, id, query, rest);
          }
        }
        this.stats.upstreamDuration.observe(this.now() - started);
        const relayed = withId(got.bytes, header.id);
        if (!viaTcp && relayed.length > udpSizeOf(query))
          return reply(header, { rcode: got.message.header.rcode, query, truncated: true, recursionAvailable: true });
        return relayed;
      } catch (err) {
        this.stats.upstreamFailures.inc();
        this.log(`upstream ${up.host}:${up.port}: ${(err as Error).message}`);
      } finally {
        this.inFlight.delete(id);
      }
    }
    return reply(header, { rcode: RCODE.SERVFAIL, query });
  }
}

interface ReplyOptions {
  rcode: number;
  query?: DnsMessage;
  answers?: OutRecord[];
  authoritative?: boolean;
  truncated?: boolean;
  recursionAvailable?: boolean;
}

/** Our reply to `header`'s query: its ID, opcode, RD and question; an OPT record when the query had one. */
function reply(header: DnsHeader, o: ReplyOptions): Uint8Array {
  const hasOpt = o.query !== undefined && optRecord(o.query) !== undefined;
  return buildMessage({
    header: {
      id: header.id,
      response: true,
      opcode: header.opcode,
      authoritative: o.authoritative ?? false,
      truncated: o.truncated ?? false,
      recursionDesired: header.recursionDesired,
      recursionAvailable: true,
      checkingDisabled: header.checkingDisabled,
      rcode: o.rcode,
    },
    questions: o.query?.questions ?? [],
    answers: o.truncated ? [] : (o.answers ?? []),
    additionals: hasOpt ? [{ name: "", type: TYPE.OPT, class: OUR_UDP_SIZE, ttl: 0, data: new Uint8Array() }] : [],
  });
}
