// The sidecar's DNS proxy on real sockets (127.0.0.1): mesh names answered from a NameTable, the rest forwarded
// to a resolver of the test's own (support/fake-dns.ts), queried by Node's own resolver (c-ares, dns.Resolver)
// and by hand-written packets.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Resolver } from "node:dns/promises";
import { createSocket } from "node:dgram";
import { StatsStore } from "../src/telemetry/stats.ts";
import { addressOf, parseMessage, RCODE, TYPE, type DnsMessage } from "../src/proxy/dns/message.ts";
import { DnsProxy } from "../src/proxy/dns/server.ts";
import { MESH_NAMES } from "../src/proxy/dns/testing.ts";
import { parseUpstreams, resolvConfUpstreams } from "../src/proxy/dns/upstream.ts";
import { FakeResolver, query, TcpClient, UdpClient } from "./support/fake-dns.ts";

const nameTable = {
  table: {
    ...MESH_NAMES,
    "many.example.net": { ips: Array.from({ length: 40 }, (_, i) => `240.241.0.${i + 1}`) },
  },
};

async function startProxy(
  upstreams: string,
  o: { timeoutMs?: number; idleMs?: number; table?: boolean; maxInFlight?: number; maxTcp?: number } = {},
): Promise<{ dns: DnsProxy; stats: StatsStore }> {
  const stats = new StatsStore();
  const dns = new DnsProxy({
    address: "127.0.0.1",
    port: 0,
    namespace: "default",
    upstreams: parseUpstreams(upstreams),
    stats,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.idleMs !== undefined ? { tcpIdleTimeoutMs: o.idleMs } : {}),
    ...(o.maxInFlight !== undefined ? { maxInFlight: o.maxInFlight } : {}),
    ...(o.maxTcp !== undefined ? { maxTcpConnections: o.maxTcp } : {}),
  });
  if (o.table !== false) dns.applyNameTable([nameTable]);
  await dns.start();
  return { dns, stats };
}

function resolverFor(dns: DnsProxy): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${dns.address.port}`]);
  return r;
}

function addresses(m: DnsMessage): (string | undefined)[] {
  return m.answers.filter((a) => a.type === TYPE.A || a.type === TYPE.AAAA).map(addressOf);
}

/** A UDP port nothing listens on (bound, then closed): a resolver that refuses. */
async function deadPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("DNS proxy: mesh names and forwarding, through Node's resolver", () => {
  let upstream: FakeResolver;
  let dns: DnsProxy;
  let stats: StatsStore;
  before(async () => {
    upstream = await new FakeResolver().start();
    ({ dns, stats } = await startProxy(upstream.address));
  });
  after(async () => {
    await dns.close();
    await upstream.stop();
  });

  test("every name form of a mesh service answers its VIP, without asking upstream", async () => {
    const r = resolverFor(dns);
    for (const name of [
      "meeting.default.svc.cluster.local",
      "MEETING.default.svc.cluster.local",
      "meeting",
      "meeting.default",
      "meeting.default.svc",
      "meeting.default.default.svc.cluster.local",
      "meeting.default.svc.cluster.local.default.svc.cluster.local",
    ])
      assert.deepEqual(await r.resolve4(name), ["240.240.3.7"], name);
    assert.deepEqual(await r.resolve4("billing.payments"), ["240.240.0.9"]);
    assert.deepEqual(await r.resolve6("billing.payments.svc.cluster.local"), ["fd00::9"]);
    assert.deepEqual(await r.resolve4("a.b.example.org"), ["240.240.8.1"]);
    assert.equal(upstream.seen.length, 0);
  });

  test("a mesh name without IPv6 answers AAAA NOERROR with no records (ENODATA, not ENOTFOUND)", async () => {
    await assert.rejects(resolverFor(dns).resolve6("meeting"), { code: "ENODATA" });
    assert.equal(upstream.seen.length, 0);
  });

  test("a name outside the mesh is forwarded, its answer and its NXDOMAIN relayed", async () => {
    const r = resolverFor(dns);
    assert.deepEqual(await r.resolve4("www.outside.test"), ["192.0.2.1"]);
    await assert.rejects(r.resolve4("missing.nx.test"), { code: "ENOTFOUND" });
    assert.ok(upstream.seen.some((q) => q.name === "www.outside.test" && q.proto === "udp"));
    // The short form of a service in another namespace is not a mesh name: it goes upstream.
    assert.deepEqual(await r.resolve4("billing"), ["192.0.2.1"]);
  });

  test("the forwarded query carries its own ID and the client's EDNS OPT; the answer carries the client's ID", async () => {
    const client = await new UdpClient().open();
    try {
      client.send(dns.address.port, query(0x4242, "edns.outside.test", TYPE.A, 1232));
      await client.waitFor(1);
      const m = parseMessage(client.received[0]!);
      assert.equal(m.header.id, 0x4242);
      assert.deepEqual(addresses(m), ["192.0.2.1"]);
      const seen = upstream.seen.find((q) => q.name === "edns.outside.test")!;
      assert.equal(seen.opt, true);
      assert.ok(
        m.additionals.some((a) => a.type === TYPE.OPT),
        "the upstream's OPT comes back",
      );
    } finally {
      client.close();
    }
  });

  test("stats: dns_requests, dns_upstream_requests, dns_upstream_request_duration", () => {
    const names = new Map(stats.toJSON().map((s) => [s.name, s.value]));
    assert.ok((names.get("dns_requests") ?? 0) >= 10, `dns_requests ${names.get("dns_requests")}`);
    assert.ok((names.get("dns_upstream_requests") ?? 0) >= 3);
    assert.equal(names.get("dns_upstream_failures"), 0);
    assert.ok((names.get("dns_table_answers") ?? 0) >= 10);
    assert.ok(stats.histogram("dns_upstream_request_duration", "").count >= 3);
  });
});

describe("DNS proxy: upstream failures, truncation, concurrency", () => {
  test("a refusing upstream is skipped for the next; all dead or silent → SERVFAIL once the timeout runs out", async () => {
    const upstream = await new FakeResolver().start();
    const dead = await deadPort();
    const silent = createSocket("udp4");
    await new Promise<void>((r) => silent.bind(0, "127.0.0.1", () => r()));
    const { dns, stats } = await startProxy(`127.0.0.1:${dead},${upstream.address}`, { timeoutMs: 2000 });
    const failing = await startProxy(`127.0.0.1:${dead},127.0.0.1:${silent.address().port}`, { timeoutMs: 300 });
    try {
      assert.deepEqual(await resolverFor(dns).resolve4("next.outside.test"), ["192.0.2.1"]);
      assert.equal(stats.counter("dns_upstream_failures", "").value, 1);
      const client = await new UdpClient().open();
      client.send(failing.dns.address.port, query(7, "nowhere.outside.test"));
      await client.waitFor(1);
      client.close();
      const m = parseMessage(client.received[0]!);
      assert.equal(m.header.id, 7);
      assert.equal(m.header.rcode, RCODE.SERVFAIL);
      assert.equal(m.questions[0]!.name, "nowhere.outside.test");
      assert.equal(failing.stats.counter("dns_upstream_failures", "").value, 2);
    } finally {
      await dns.close();
      await failing.dns.close();
      silent.close();
      await upstream.stop();
    }
  });

  test("a truncated UDP answer is asked again over TCP; too big for the client's UDP → TC, then TCP gets it all", async () => {
    const upstream = await new FakeResolver().start();
    const many = Array.from({ length: 60 }, (_, i) => `198.51.100.${i + 1}`);
    upstream.rule = (q) =>
      q.proto === "udp"
        ? { truncated: true }
        : { answers: many.map((address) => ({ name: q.name, type: TYPE.A, ttl: 60, address })) };
    const { dns } = await startProxy(upstream.address);
    try {
      const client = await new UdpClient().open();
      client.send(dns.address.port, query(11, "big.outside.test", TYPE.A, 4096));
      await client.waitFor(1);
      const full = parseMessage(client.received[0]!);
      assert.equal(full.header.id, 11);
      assert.equal(full.header.truncated, false);
      assert.deepEqual(addresses(full), many);
      assert.deepEqual(
        upstream.seen.map((q) => q.proto),
        ["udp", "tcp"],
      );
      // Without EDNS the client takes 512 bytes: the proxy says TC, and the client's TCP retry is forwarded over TCP.
      client.send(dns.address.port, query(12, "big.outside.test"));
      await client.waitFor(2);
      client.close();
      const cut = parseMessage(client.received[1]!);
      assert.equal(cut.header.id, 12);
      assert.equal(cut.header.truncated, true);
      assert.equal(cut.answers.length, 0);
      const tcp = await new TcpClient().open(dns.address.port);
      tcp.send(query(13, "big.outside.test"));
      await tcp.waitFor(1);
      tcp.close();
      assert.deepEqual(addresses(parseMessage(tcp.received[0]!)), many);
      assert.equal(upstream.seen.at(-1)!.proto, "tcp");
      // Node's resolver does the same dance by itself.
      assert.deepEqual(await resolverFor(dns).resolve4("big.outside.test"), many);
    } finally {
      await dns.close();
      await upstream.stop();
    }
  });

  test("200 concurrent queries answered upstream in reverse order each get their own answer under their own ID", async () => {
    const upstream = await new FakeResolver().start();
    const total = 200;
    const held: (() => void)[] = [];
    upstream.rule = (q) =>
      new Promise((resolve) => {
        const i = Number(/^q(\d+)\./.exec(q.name)![1]);
        held.push(() =>
          resolve({
            answers: [{ name: q.name, type: TYPE.A, ttl: 60, address: `10.${i >> 8}.${i & 0xff}.1` }],
          }),
        );
        if (held.length === total) for (const release of held.reverse()) release();
      });
    const { dns } = await startProxy(upstream.address);
    const client = await new UdpClient().open();
    try {
      for (let i = 0; i < total; i++) client.send(dns.address.port, query(1000 + i, `q${i}.outside.test`));
      await client.waitFor(total);
      const ids = new Set(upstream.seen.map((q) => q.id));
      assert.equal(ids.size, total, "every forwarded query has an ID of its own");
      for (const packet of client.received) {
        const m = parseMessage(packet);
        const i = m.header.id - 1000;
        assert.equal(m.questions[0]!.name, `q${i}.outside.test`);
        assert.deepEqual(addresses(m), [`10.${i >> 8}.${i & 0xff}.1`]);
      }
    } finally {
      client.close();
      await dns.close();
      await upstream.stop();
    }
  });

  test("beyond maxInFlight forwarded queries, SERVFAIL at once; beyond maxTcpConnections, a connection is closed", async () => {
    const upstream = await new FakeResolver().start();
    const held: (() => void)[] = [];
    upstream.rule = (q) =>
      new Promise((resolve) =>
        held.push(() => resolve({ answers: [{ name: q.name, type: TYPE.A, ttl: 60, address: "192.0.2.9" }] })),
      );
    const { dns, stats } = await startProxy(upstream.address, { maxInFlight: 2, maxTcp: 1 });
    const client = await new UdpClient().open();
    try {
      client.send(dns.address.port, query(1, "one.outside.test"));
      client.send(dns.address.port, query(2, "two.outside.test"));
      while (upstream.seen.length < 2) await new Promise((r) => setImmediate(r));
      client.send(dns.address.port, query(3, "three.outside.test"));
      await client.waitFor(1);
      const refused = parseMessage(client.received[0]!);
      assert.equal(refused.header.id, 3);
      assert.equal(refused.header.rcode, RCODE.SERVFAIL);
      for (const release of held) release();
      await client.waitFor(3);
      assert.deepEqual(
        client.received.slice(1).map((p) => addresses(parseMessage(p))),
        [["192.0.2.9"], ["192.0.2.9"]],
      );
      // A table answer needs no upstream: a mesh name still answers while forwarding is full.
      const first = await new TcpClient().open(dns.address.port);
      const second = await new TcpClient().open(dns.address.port);
      await second.waitClosed();
      first.send(query(4, "meeting"));
      await first.waitFor(1);
      assert.deepEqual(addresses(parseMessage(first.received[0]!)), ["240.240.3.7"]);
      first.close();
      assert.equal(stats.counter("dns_overflow", "").value, 2);
    } finally {
      client.close();
      await dns.close();
      await upstream.stop();
    }
  });

  test("before the first NameTable, a proxy fed by xDS answers SERVFAIL (as Istio's agent)", async () => {
    const upstream = await new FakeResolver().start();
    const { dns } = await startProxy(upstream.address, { table: false });
    try {
      const client = await new UdpClient().open();
      client.send(dns.address.port, query(5, "meeting"));
      await client.waitFor(1);
      client.close();
      assert.equal(parseMessage(client.received[0]!).header.rcode, RCODE.SERVFAIL);
      assert.equal(upstream.seen.length, 0);
    } finally {
      await dns.close();
      await upstream.stop();
    }
  });
});

describe("DNS proxy: hostile packets and TCP", () => {
  function hex(s: string): Uint8Array {
    return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
  }

  test("UDP: short packets and responses are dropped, malformed queries answered FORMERR, the proxy keeps serving", async () => {
    const upstream = await new FakeResolver().start();
    const { dns, stats } = await startProxy(upstream.address);
    const client = await new UdpClient().open();
    try {
      const port = dns.address.port;
      client.send(port, hex("abcd01")); // shorter than a header: dropped
      client.send(port, hex("abcd 8180 0001 0000 0000 0000 00 0001 0001")); // a response: dropped
      const hostile = [
        "0101 0100 0001 0000 0000 0000 c00c 0001 0001", // pointer to itself
        "0102 0100 0001 0000 0000 0000 3f616263", // label past the end
        "0103 0100 ffff ffff 0000 0000 00 0001 0001", // counts far beyond the packet
        "0104 0100 0001 0000 0000 0000 c00e 00 0001 0001", // forward pointer
        "0105 0100 0000 0000 0000 0000", // no question
      ];
      for (const h of hostile) client.send(port, hex(h));
      client.send(port, query(0x0200, "meeting"));
      await client.waitFor(hostile.length + 1);
      const byId = new Map(client.received.map((p) => [parseMessage(p).header.id, parseMessage(p)]));
      for (const id of [0x0101, 0x0102, 0x0103, 0x0104, 0x0105])
        assert.equal(byId.get(id)?.header.rcode, RCODE.FORMERR);
      assert.deepEqual(addresses(byId.get(0x0200)!), ["240.240.3.7"]);
      assert.equal(byId.has(0xabcd), false);
      assert.equal(stats.counter("dns_malformed", "").value, 7);
      assert.equal(upstream.seen.length, 0);
    } finally {
      client.close();
      await dns.close();
      await upstream.stop();
    }
  });

  test("a table answer larger than the client's UDP size: TC and no records over UDP, all of it over TCP", async () => {
    const upstream = await new FakeResolver().start();
    const { dns } = await startProxy(upstream.address);
    const client = await new UdpClient().open();
    try {
      client.send(dns.address.port, query(21, "many.example.net"));
      client.send(dns.address.port, query(22, "many.example.net", TYPE.A, 1232));
      await client.waitFor(2);
      const byId = new Map(client.received.map((p) => [parseMessage(p).header.id, parseMessage(p)]));
      assert.equal(byId.get(21)!.header.truncated, true);
      assert.equal(byId.get(21)!.answers.length, 0);
      assert.equal(byId.get(22)!.header.truncated, false);
      assert.equal(byId.get(22)!.answers.length, 40);
      const tcp = await new TcpClient().open(dns.address.port);
      tcp.send(query(23, "many.example.net"));
      await tcp.waitFor(1);
      tcp.close();
      assert.equal(parseMessage(tcp.received[0]!).answers.length, 40);
      assert.equal(upstream.seen.length, 0);
    } finally {
      client.close();
      await dns.close();
      await upstream.stop();
    }
  });

  test("TCP: several queries on one connection (one split across writes, one hostile), then closed when idle", async () => {
    const upstream = await new FakeResolver().start();
    const { dns } = await startProxy(upstream.address, { idleMs: 200 });
    try {
      const tcp = await new TcpClient().open(dns.address.port);
      tcp.send(query(1, "meeting.default"));
      const second = query(2, "tcp.outside.test");
      const framed = Buffer.alloc(2 + second.length);
      framed.writeUInt16BE(second.length, 0);
      framed.set(second, 2);
      tcp.send(framed.subarray(0, 5), true);
      tcp.send(framed.subarray(5), true);
      tcp.send(hex("0003 0100 0001 0000 0000 0000 c00c 0001 0001"));
      await tcp.waitFor(3);
      const byId = new Map(tcp.received.map((p) => [parseMessage(p).header.id, parseMessage(p)]));
      assert.deepEqual(addresses(byId.get(1)!), ["240.240.3.7"]);
      assert.deepEqual(addresses(byId.get(2)!), ["192.0.2.1"]);
      assert.equal(byId.get(3)!.header.rcode, RCODE.FORMERR);
      assert.equal(upstream.seen.find((q) => q.name === "tcp.outside.test")?.proto, "tcp");
      await tcp.waitClosed();
    } finally {
      await dns.close();
      await upstream.stop();
    }
  });
});

test("--dns-upstream forms and resolv.conf's nameservers", async () => {
  assert.deepEqual(parseUpstreams("10.0.0.2, 10.0.0.3:5353,[fd00::1]:53,fd00::2"), [
    { host: "10.0.0.2", port: 53 },
    { host: "10.0.0.3", port: 5353 },
    { host: "fd00::1", port: 53 },
    { host: "fd00::2", port: 53 },
  ]);
  assert.throws(() => parseUpstreams("dns.google:53"), { code: "TRELLIS_DNS_UPSTREAM" });
  assert.throws(() => parseUpstreams("10.0.0.1:0"), { code: "TRELLIS_DNS_UPSTREAM" });
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const file = join(mkdtempSync(join(tmpdir(), "trellis-dns-")), "resolv.conf");
  writeFileSync(file, "# comment\nsearch default.svc.cluster.local\nnameserver 10.96.0.10\nnameserver fe80::1%eth0\n");
  assert.deepEqual(resolvConfUpstreams(file), [
    { host: "10.96.0.10", port: 53 },
    { host: "fe80::1", port: 53 },
  ]);
  assert.deepEqual(resolvConfUpstreams(join(tmpdir(), "no-such-resolv.conf")), []);
});
