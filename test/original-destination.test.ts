// The original destination of a captured connection (SO_ORIGINAL_DST), read through libc's getsockopt: without
// capture on the host's loopback, with a stand-in getsockopt for what only the kernel does, and for real inside a
// network namespace this test creates, where an iptables `nat OUTPUT` REDIRECT sends a client's connection for
// 10.250.7.9:8080 (and [fd7e:250::9]:8080) to a listener on another port of the loopback.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import readline from "node:readline";
import { describe, it } from "node:test";
import {
  loadGetSockOpt,
  originalDestination,
  OriginalDestinationStats,
  OriginalDstFilter,
  OriginalDestinationUnavailable,
  parseSockaddr,
  SO_ORIGINAL_DST,
  SOL_IP,
  SOL_IPV6,
} from "../src/proxy/listener/original-destination.ts";
import type { GetSockOpt } from "../src/proxy/listener/original-destination.ts";
import type { ConnectionProperties } from "../src/proxy/listener/filter-chain-selector.ts";
import { StatsStore } from "../src/telemetry/stats.ts";
import { netnsSkipReason, NETNS_PREFIX, removeStaleNetns, run, withNetns } from "./support/netns.ts";
import type { Netns } from "./support/netns.ts";

/** A connected pair on the loopback; the server's end is what a listener would ask. */
async function loopbackPair(host = "127.0.0.1"): Promise<{ accepted: net.Socket; close: () => void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, host);
  const [accepted] = (await once(server, "connection")) as [net.Socket];
  return {
    accepted,
    close: () => {
      client.destroy();
      accepted.destroy();
      server.close();
    },
  };
}

function counts(stats: OriginalDestinationStats): { found: number; notFound: number; unavailable: number } {
  return { found: stats.found.value, notFound: stats.notFound.value, unavailable: stats.unavailable.value };
}

describe("originalDestination", () => {
  it("reads sockaddr_in and sockaddr_in6 as the kernel writes them", () => {
    const v4 = Buffer.alloc(16);
    v4.writeUInt16LE(2, 0); // AF_INET, host order (little-endian here)
    v4.writeUInt16BE(8080, 2);
    Buffer.from([10, 250, 7, 9]).copy(v4, 4);
    assert.deepEqual(parseSockaddr(v4, 16), { address: "10.250.7.9", port: 8080 });

    const v6 = Buffer.alloc(28);
    v6.writeUInt16LE(10, 0); // AF_INET6
    v6.writeUInt16BE(443, 2);
    Buffer.from("fd7e0250000000000000000000000009", "hex").copy(v6, 8);
    assert.deepEqual(parseSockaddr(v6, 28), { address: "fd7e:250::9", port: 443 });

    assert.equal(parseSockaddr(v4, 1), undefined, "too short for a family");
    assert.equal(parseSockaddr(v6, 20), undefined, "too short for an IPv6 address");
    const unix = Buffer.alloc(16);
    unix.writeUInt16LE(1, 0); // AF_UNIX: not an address with a port
    assert.equal(parseSockaddr(unix, 16), undefined);
  });

  it("asks SOL_IP for an IPv4 (and v4-mapped) socket, SOL_IPV6 for IPv6, and returns what the kernel wrote", async () => {
    const asked: [number, number][] = [];
    const kernel: GetSockOpt = (_fd, level, name, value, length) => {
      asked.push([level, name]);
      const sockaddr = level === SOL_IP ? parseable4() : parseable6();
      sockaddr.copy(value);
      length.writeUInt32LE(sockaddr.length);
      return { result: 0, errno: 0 };
    };
    const stats = new OriginalDestinationStats(new StatsStore());
    const pair4 = await loopbackPair("127.0.0.1");
    const pair6 = await loopbackPair("::1");
    try {
      assert.deepEqual(originalDestination(pair4.accepted, stats, kernel), { address: "10.1.2.3", port: 9000 });
      assert.deepEqual(originalDestination(pair6.accepted, stats, kernel), { address: "fd00::7", port: 9001 });
    } finally {
      pair4.close();
      pair6.close();
    }
    assert.deepEqual(asked, [
      [SOL_IP, SO_ORIGINAL_DST],
      [SOL_IPV6, SO_ORIGINAL_DST],
    ]);
    assert.deepEqual(counts(stats), { found: 2, notFound: 0, unavailable: 0 });
  });

  it("fails soft: undefined and a counted stat when the lookup is unavailable, fails, or the socket has no fd", async () => {
    const stats = new OriginalDestinationStats(new StatsStore());
    const pair = await loopbackPair();
    try {
      const unavailable = new OriginalDestinationUnavailable("platform darwin is not Linux");
      assert.equal(unavailable.code, "ORIGINAL_DST_UNAVAILABLE");
      assert.equal(originalDestination(pair.accepted, stats, unavailable), undefined);
      assert.deepEqual(counts(stats), { found: 0, notFound: 0, unavailable: 1 });

      const enoent: GetSockOpt = () => ({ result: -1, errno: 2 });
      assert.equal(originalDestination(pair.accepted, stats, enoent), undefined);
      const throws: GetSockOpt = () => {
        throw new Error("bad fd");
      };
      assert.equal(originalDestination(pair.accepted, stats, throws), undefined);
      assert.deepEqual(counts(stats), { found: 0, notFound: 2, unavailable: 1 });
    } finally {
      pair.close();
    }
    // A socket that was never connected has no handle (no fd): nothing is asked.
    let called = false;
    const never: GetSockOpt = () => {
      called = true;
      return { result: 0, errno: 0 };
    };
    assert.equal(originalDestination(new net.Socket(), stats, never), undefined);
    assert.equal(called, false);
    assert.deepEqual(counts(stats), { found: 0, notFound: 3, unavailable: 1 });
  });

  it("the original_dst listener filter gives the socket its original destination as local address and port", async () => {
    const kernel: GetSockOpt = (_fd, _level, _name, value, length) => {
      parseable4().copy(value);
      length.writeUInt32LE(16);
      return { result: 0, errno: 0 };
    };
    const stats = new OriginalDestinationStats(new StatsStore());
    const pair = await loopbackPair();
    try {
      const mutable: ConnectionProperties = {
        destinationPort: pair.accepted.localPort!,
        transportProtocol: "raw_buffer",
        serverName: "",
        applicationProtocols: [],
      };
      const conn = { socket: pair.accepted, consume: () => assert.fail("original_dst consumes no bytes") };
      // No bytes needed: it decides on the empty buffer the listener hands every filter at accept.
      assert.equal(new OriginalDstFilter(stats, kernel).inspect(Buffer.alloc(0), mutable, conn), "done");
      assert.equal(mutable.destinationPort, 9000);
      assert.equal(pair.accepted.localAddress, "10.1.2.3");
      assert.equal(pair.accepted.localPort, 9000);

      // Nothing to report: the connection keeps its own addresses and goes on.
      const other = await loopbackPair();
      try {
        const own = { ...mutable, destinationPort: other.accepted.localPort! };
        const enoent: GetSockOpt = () => ({ result: -1, errno: 2 });
        const c = { socket: other.accepted, consume: () => undefined };
        assert.equal(new OriginalDstFilter(stats, enoent).inspect(Buffer.alloc(0), own, c), "done");
        assert.equal(own.destinationPort, other.accepted.localPort);
        assert.equal(other.accepted.localAddress, "127.0.0.1");
      } finally {
        other.close();
      }
    } finally {
      pair.close();
    }
    assert.deepEqual(counts(stats), { found: 1, notFound: 1, unavailable: 0 });
  });

  it(
    "through libc on this host: a connection that no rule redirected is not reported as redirected",
    { skip: process.platform !== "linux" ? "SO_ORIGINAL_DST is Linux's" : undefined },
    async () => {
      const getsockopt = loadGetSockOpt();
      assert.equal(typeof getsockopt, "function", String(getsockopt));
      assert.equal(loadGetSockOpt(), getsockopt, "libc is loaded once");
      const stats = new OriginalDestinationStats(new StatsStore());
      const pair = await loopbackPair();
      try {
        const got = originalDestination(pair.accepted, stats);
        // Where this namespace tracks no connections (usual on a host without nat rules) the kernel has nothing to
        // say (ENOENT); where it does, it names the listener itself. Both are exact; the namespace test below pins
        // each case down in a namespace it controls.
        if (got === undefined) assert.deepEqual(counts(stats), { found: 0, notFound: 1, unavailable: 0 });
        else {
          assert.deepEqual(got, { address: "127.0.0.1", port: pair.accepted.localPort });
          assert.deepEqual(counts(stats), { found: 1, notFound: 0, unavailable: 0 });
        }
      } finally {
        pair.close();
      }
    },
  );
});

function parseable4(): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(2, 0);
  b.writeUInt16BE(9000, 2);
  Buffer.from([10, 1, 2, 3]).copy(b, 4);
  return b;
}

function parseable6(): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(10, 0);
  b.writeUInt16BE(9001, 2);
  Buffer.from("fd000000000000000000000000000007", "hex").copy(b, 8);
  return b;
}

/** The child's stdout, one JSON line per call; a child that exits first fails the call with its stderr. */
function lines(child: ReturnType<Netns["spawnNode"]>): () => Promise<Record<string, unknown>> {
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const iterator = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return async () => {
    const { value, done } = await iterator.next();
    if (done) throw new Error(`the child exited before answering: ${stderr.trim()}`);
    return JSON.parse(value as string) as Record<string, unknown>;
  };
}

/** The gid the proxy runs under, excluded from capture (Istio's sidecar runs as 1337:1337). */
const PROXY_GID = 1337;

// Addresses for the veth pair, from this process's pid: two test runs at the same time do not share a subnet.
const octet = process.pid % 250;

describe(
  "originalDestination inside a network namespace with an iptables REDIRECT",
  { skip: netnsSkipReason, timeout: 60_000 },
  () => {
    it("returns the address and port the client dialled (IPv4, IPv6, dual-stack); unredirected: none before any nat rule, then the listener itself", async () => {
      await withNetns({ host: `10.213.${octet}.1/30`, inside: `10.213.${octet}.2/30` }, async (ns) => {
        // IPv6 inside the namespace too: an address (no duplicate-address wait) and a default route, so fd7e:250::9
        // is routable and the nat rule sees the connection.
        await ns.exec("ip", ["-6", "addr", "add", `fd7e:213:${octet}::2/64`, "dev", "eth0", "nodad"]);
        await ns.exec("ip", ["-6", "route", "add", "default", "via", `fd7e:213:${octet}::1`]);

        const child = ns.spawnNode(["test/support/original-dst-child.ts"]);
        const next = lines(child);
        const { listening } = (await next()) as { listening: { v4: number; v6: number; dual: number } };

        // Before any rule, this fresh namespace tracks no connection: the kernel has nothing to report (ENOENT).
        child.stdin!.write(`connect 127.0.0.1 ${listening.v4}\n`);
        assert.deepEqual(await next(), {
          dialled: `127.0.0.1:${listening.v4}`,
          original: null,
          local: `127.0.0.1:${listening.v4}`,
          stats: { found: 0, notFound: 1, unavailable: 0 },
        });

        // As istio-iptables does for outbound capture, narrowed to the test's destination: nat OUTPUT, REDIRECT.
        await ns.exec(
          "iptables",
          ["-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "10.250.7.9", "--dport", "8080"].concat([
            "-j",
            "REDIRECT",
            "--to-ports",
            String(listening.v4),
          ]),
        );
        await ns.exec(
          "ip6tables",
          ["-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "fd7e:250::9", "--dport", "8080"].concat([
            "-j",
            "REDIRECT",
            "--to-ports",
            String(listening.v6),
          ]),
        );

        child.stdin!.write("connect 10.250.7.9 8080\n");
        assert.deepEqual(await next(), {
          dialled: "10.250.7.9:8080",
          original: { address: "10.250.7.9", port: 8080 },
          local: `127.0.0.1:${listening.v4}`,
          stats: { found: 1, notFound: 1, unavailable: 0 },
        });

        child.stdin!.write("connect fd7e:250::9 8080\n");
        assert.deepEqual(await next(), {
          dialled: "[fd7e:250::9]:8080",
          original: { address: "fd7e:250::9", port: 8080 },
          local: `::1:${listening.v6}`,
          stats: { found: 2, notFound: 1, unavailable: 0 },
        });

        // A dual-stack listener (on "::") sees the IPv4 connection as ::ffff:127.0.0.1; its conntrack entry is IPv4's.
        await ns.exec(
          "iptables",
          ["-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "10.250.7.10", "--dport", "8080"].concat([
            "-j",
            "REDIRECT",
            "--to-ports",
            String(listening.dual),
          ]),
        );
        child.stdin!.write("connect 10.250.7.10 8080\n");
        assert.deepEqual(await next(), {
          dialled: "10.250.7.10:8080",
          original: { address: "10.250.7.10", port: 8080 },
          local: `::ffff:127.0.0.1:${listening.dual}`,
          stats: { found: 3, notFound: 1, unavailable: 0 },
        });

        // Straight to the listener once the nat table is in use: conntrack tracks it, and what was dialled is the
        // listener itself. The caller tells this from a redirect by comparing with the local address (Envoy does too).
        child.stdin!.write(`connect 127.0.0.1 ${listening.v4}\n`);
        assert.deepEqual(await next(), {
          dialled: `127.0.0.1:${listening.v4}`,
          original: { address: "127.0.0.1", port: listening.v4 },
          local: `127.0.0.1:${listening.v4}`,
          stats: { found: 4, notFound: 1, unavailable: 0 },
        });
        child.stdin!.end();
        await once(child, "exit");
      });
    });

    it("Istio's capture: a proxy under its own gid reads the original destination and connects there uncaptured", async () => {
      await withNetns({ host: `10.215.${octet}.1/30`, inside: `10.215.${octet}.2/30` }, async (ns) => {
        await ns.exec("ip", ["addr", "add", "10.250.8.9/32", "dev", "lo"]);
        const proxy = ns.spawnNode(["test/support/capture-forwarder.ts", "--server", "10.250.8.9"], {
          group: PROXY_GID,
        });
        const next = lines(proxy);
        const started = (await next()) as { capture: number; server: number; gid: number };
        assert.equal(started.gid, PROXY_GID);

        // istio-iptables' outbound rules, narrowed to one destination: the proxy's own gid returns first, everything
        // else for 10.250.8.9 goes to the capture port.
        await ns.exec(
          "iptables",
          ["-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-m", "owner"].concat([
            "--gid-owner",
            String(PROXY_GID),
            "-j",
            "RETURN",
          ]),
        );
        await ns.exec(
          "iptables",
          ["-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "10.250.8.9"].concat([
            "-j",
            "REDIRECT",
            "--to-ports",
            String(started.capture),
          ]),
        );

        // The application: root, unaware of the proxy, dials the destination by address.
        const reply = await ns.exec("bash", ["-c", `exec 3<>/dev/tcp/10.250.8.9/${started.server}; cat <&3`]);
        assert.deepEqual(await next(), { original: { address: "10.250.8.9", port: started.server } });
        // The server got the proxy's own connection, which was not captured again (it would loop to the proxy).
        assert.equal(reply, `server 10.250.8.9:${started.server} saw 10.250.8.9\n`);
      });
    });

    it("the proxy's original_dst listener filter: the chain is chosen by the port the client dialled", async () => {
      await withNetns({ host: `10.216.${octet}.1/30`, inside: `10.216.${octet}.2/30` }, async (ns) => {
        const proxy = ns.spawnNode(["test/support/capture-proxy-child.ts"]);
        const next = lines(proxy);
        const { capture } = (await next()) as { capture: number };
        await ns.exec(
          "iptables",
          ["-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "10.250.9.0/24"].concat([
            "-j",
            "REDIRECT",
            "--to-ports",
            String(capture),
          ]),
        );
        const dial = (address: string, port: number): Promise<string> =>
          ns.exec("bash", ["-c", `exec 3<>/dev/tcp/${address}/${port}; cat <&3`]);
        // Port 8080 has its own chain (server a); any other port falls to the default chain (server b).
        assert.equal(await dial("10.250.9.1", 8080), "a\n");
        assert.equal(await dial("10.250.9.2", 8080), "a\n");
        assert.equal(await dial("10.250.9.1", 9090), "b\n");
        // Not redirected (straight to the capture port): the listener's own port, 15001, picks the default chain.
        assert.equal(await dial("127.0.0.1", capture), "b\n");
        proxy.stdin!.write("stats\n");
        assert.deepEqual(await next(), { found: 4, notFound: 0, unavailable: 0 });
      });
    });

    it("removes the namespace and its veth pair at the end, also when the test body throws", async () => {
      let made: Netns | undefined;
      await assert.rejects(
        withNetns({ host: `10.214.${octet}.1/30`, inside: `10.214.${octet}.2/30` }, async (ns) => {
          made = ns;
          assert.deepEqual(await ns.exists(), { namespace: true, hostInterface: true });
          assert.match(
            await ns.exec("ip", ["-o", "addr", "show", "dev", "eth0"]),
            new RegExp(`10\\.214\\.${octet}\\.2/30`),
          );
          assert.match(await ns.exec("ip", ["-o", "link", "show", "dev", "lo"]), /state UNKNOWN|,UP/);
          throw new Error("the body failed");
        }),
        /the body failed/,
      );
      assert.deepEqual(await made!.exists(), { namespace: false, hostInterface: false });
    });

    it("removes a namespace left by a run that was killed (dead pid in its name), not a live run's", async () => {
      // A pid that is certainly dead: a child that has exited.
      const gone = (await run(process.execPath, ["-e", "process.stdout.write(String(process.pid))"])).trim();
      const stale = `${NETNS_PREFIX}${gone}-0`;
      const live = `${NETNS_PREFIX}${process.pid}-999`;
      await run("ip", ["netns", "add", stale]);
      await run("ip", ["netns", "add", live]);
      try {
        const removed = await removeStaleNetns();
        assert.ok(removed.includes(stale), `removed ${removed.join(", ")}`);
        assert.ok(!removed.includes(live));
        const list = await run("ip", ["netns", "list"]);
        assert.doesNotMatch(list, new RegExp(`^${stale}\\b`, "m"));
        assert.match(list, new RegExp(`^${live}\\b`, "m"));
      } finally {
        await run("ip", ["netns", "del", stale]).catch(() => undefined);
        await run("ip", ["netns", "del", live]).catch(() => undefined);
      }
    });
  },
);
