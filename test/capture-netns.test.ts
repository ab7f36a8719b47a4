// Traffic capture end to end, as an Istio sidecar in REDIRECT mode sees it: in a network namespace the test creates,
// a real proxy runs under the sidecar's gid 1337 (test/support/capture-sidecar-child.ts) with Istio-shaped listeners,
// the nat rules are istio-iptables' outbound ones (the sidecar's gid returns, 127.0.0.1 returns, the rest of TCP is
// redirected to 15001), and an application (test/support/capture-client-child.ts, root) dials addresses with no
// idea a proxy exists. Each connection must reach the right upstream with its bytes intact: the VIP listener that
// binds nothing, the HTTP listener on 0.0.0.0:8080 by Host name or VIP, the prefix_ranges chain, the ORIGINAL_DST
// passthrough to a server at an address the test made; the capture port dialled directly is refused, not looped;
// inbound connections from the host reach the application through virtualInbound (a declared port's chain, an
// undeclared one through InboundPassthroughCluster);
// an LDS update adds and removes a bind_to_port: false listener while a connection on it is open.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import readline from "node:readline";
import { netnsSkipReason, withNetns, type Netns } from "./support/netns.ts";
import { exchange } from "./support/capture.ts";

/** The gid the sidecar runs under, excluded from capture (Istio's sidecar runs as 1337:1337). */
const SIDECAR_GID = 1337;

// The veth pair's subnet from this process's pid: two runs at the same time do not share one.
const octet = process.pid % 250;

/** A child's stdout, one JSON value per line; a child that exits first fails the call with its stderr. */
function talk(child: ReturnType<Netns["spawnNode"]>): (line?: string) => Promise<Record<string, unknown>> {
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const iterator = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return async (line) => {
    if (line !== undefined) child.stdin!.write(`${line}\n`);
    const { value, done } = await iterator.next();
    if (done) throw new Error(`the child exited before answering: ${stderr.trim()}`);
    return JSON.parse(value as string) as Record<string, unknown>;
  };
}

/** istio-iptables' outbound capture (nat table), with Trellis's chain names. */
async function captureOutbound(ns: Netns): Promise<void> {
  const nat = (...args: string[]): Promise<string> => ns.exec("iptables", ["-t", "nat", ...args]);
  await nat("-N", "TRELLIS_REDIRECT");
  await nat("-A", "TRELLIS_REDIRECT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15001");
  await nat("-N", "TRELLIS_OUTPUT");
  await nat("-A", "OUTPUT", "-p", "tcp", "-j", "TRELLIS_OUTPUT");
  await nat("-A", "TRELLIS_OUTPUT", "-m", "owner", "--gid-owner", String(SIDECAR_GID), "-j", "RETURN");
  await nat("-A", "TRELLIS_OUTPUT", "-d", "127.0.0.1/32", "-j", "RETURN");
  await nat("-A", "TRELLIS_OUTPUT", "-j", "TRELLIS_REDIRECT");
}

/** istio-iptables' inbound capture: TCP arriving for any port but the sidecar's own goes to 15006. */
async function captureInbound(ns: Netns): Promise<void> {
  const nat = (...args: string[]): Promise<string> => ns.exec("iptables", ["-t", "nat", ...args]);
  await nat("-N", "TRELLIS_IN_REDIRECT");
  await nat("-A", "TRELLIS_IN_REDIRECT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15006");
  await nat("-N", "TRELLIS_INBOUND");
  await nat("-A", "PREROUTING", "-p", "tcp", "-j", "TRELLIS_INBOUND");
  for (const port of [15001, 15006, 15053, 15000, 15021, 15090])
    await nat("-A", "TRELLIS_INBOUND", "-p", "tcp", "--dport", String(port), "-j", "RETURN");
  await nat("-A", "TRELLIS_INBOUND", "-p", "tcp", "-j", "TRELLIS_IN_REDIRECT");
}

describe(
  "capture: a sidecar with Istio's listeners behind istio-iptables' rules",
  { skip: netnsSkipReason, timeout: 120_000 },
  () => {
    it("routes each captured connection the right way, refuses the loop, follows LDS with a connection open", async () => {
      const inside = `10.217.${octet}.2`;
      await withNetns({ host: `10.217.${octet}.1/30`, inside: `${inside}/30` }, async (ns) => {
        // Addresses the test makes for the passthrough's destinations, on lo inside the namespace.
        await ns.exec("ip", ["addr", "add", "10.251.0.7/32", "dev", "lo"]);
        await ns.exec("ip", ["addr", "add", "10.251.0.9/32", "dev", "lo"]);
        const sidecar = ns.spawnNode(
          ["test/support/capture-sidecar-child.ts", "--outside", "10.251.0.7", "--outside9", "10.251.0.9"],
          { group: SIDECAR_GID },
        );
        const proxy = talk(sidecar);
        assert.deepEqual(await proxy(), { ready: true, gid: SIDECAR_GID });
        await captureOutbound(ns);
        await captureInbound(ns);
        const app = talk(ns.spawnNode(["test/support/capture-client-child.ts"]));
        const send = async (host: string, port: number, data: string): Promise<string> =>
          (await app(JSON.stringify({ op: "send", host, port, data }))).reply as string;
        const stats = async (): Promise<Record<string, number>> => (await proxy("stats")) as Record<string, number>;

        // A TCP service's VIP: the bind_to_port: false listener 240.240.0.5_6379, every byte as sent.
        const bytes = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\u00ff\u0000v\r\n";
        assert.equal(await send("240.240.0.5", 6379, bytes), `redis|${bytes}`);

        // HTTP on port 8080, whatever the address: 0.0.0.0_8080 routes by Host, the name or the VIP.
        const get = (host: string): string => `GET /book?day=2 HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`;
        const byName = await send("10.251.3.7", 8080, get("meeting:8080"));
        assert.match(byName, /^HTTP\/1\.1 200 /);
        assert.ok(byName.endsWith("\r\n\r\nmeeting GET /book?day=2 host=meeting:8080"), byName);
        const byVip = await send("240.240.3.7", 8080, get("240.240.3.7:8080"));
        assert.ok(byVip.endsWith("\r\n\r\nmeeting GET /book?day=2 host=240.240.3.7:8080"), byVip);
        assert.match(await send("10.251.3.7", 8080, get("unknown:8080")), /^HTTP\/1\.1 404 /);

        // virtualOutbound's own chains: prefix_ranges 10.252.0.0/16, else the ORIGINAL_DST passthrough to the address
        // and port dialled (a server the test put on 10.251.0.7:7777).
        assert.equal(await send("10.252.1.1", 9999, "in range"), "ranged|in range");
        assert.equal(await send("10.251.0.7", 7777, "anywhere\u0000\u00ff"), "outside|anywhere\u0000\u00ff");

        // The loop guard: the capture port dialled at the namespace's address (captured, original destination
        // <inside>:15001) and at 127.0.0.1 (not captured) is refused, not forwarded to the proxy itself.
        const before = await stats();
        assert.equal(await send(inside, 15001, "loop"), "");
        assert.equal(await send("127.0.0.1", 15001, "loop"), "");
        const after = await stats();
        const loops = "trellis_original_dst_loop_refused{envoy_cluster_name=PassthroughCluster}";
        assert.equal(after[loops]! - (before[loops] ?? 0), 2);
        const own = "envoy_listener_downstream_cx_total{envoy_listener_address=0.0.0.0_15001}";
        assert.equal(after[own]! - before[own]!, 2); // two connections, no chain of them through itself

        // Each listener counted what it handled.
        assert.equal(after["envoy_listener_downstream_cx_total{envoy_listener_address=240.240.0.5_6379}"], 1);
        assert.equal(after["envoy_listener_downstream_cx_total{envoy_listener_address=0.0.0.0_8080}"], 3);

        // Inbound, from the host into the namespace's address: the declared port through its chain to 127.0.0.1:9080;
        // a port the application listens on but did not declare through InboundPassthroughCluster (ORIGINAL_DST),
        // which connects to the original destination as the sidecar (not captured again).
        assert.equal(await exchange(9080, "inbound bytes\u0000", inside), "app saw 127.0.0.1|inbound bytes\u0000");
        assert.equal(await exchange(9191, "undeclared", inside), `undeclared saw ${inside}|undeclared`);
        const inbound = await stats();
        assert.equal(inbound["envoy_listener_downstream_cx_total{envoy_listener_address=0.0.0.0_15006}"], 2);

        // LDS: 10.251.0.9:5432 goes through the passthrough until a bind_to_port: false listener is added for it.
        assert.equal(await send("10.251.0.9", 5432, "before"), "outside9|before");
        assert.deepEqual(await proxy("add"), { version: 1 });
        assert.equal(await send("10.251.0.9", 5432, "added"), "dynamic|added");
        assert.deepEqual(
          await app(JSON.stringify({ op: "open", id: "h", host: "10.251.0.9", port: 5432, data: "held " })),
          {
            opened: "h",
          },
        );
        const dynamicCount = "envoy_listener_downstream_cx_total{envoy_listener_address=10.251.0.9_5432}";
        // The proxy has accepted it and handed it over (asked again until it says so; a bounded number of times).
        let accepted = 0;
        for (let i = 0; i < 500 && accepted !== 2; i++) accepted = (await stats())[dynamicCount] ?? 0;
        assert.equal(accepted, 2);
        assert.deepEqual(await proxy("remove"), { version: 2 });
        assert.equal(await send("10.251.0.9", 5432, "removed"), "outside9|removed");
        // The connection opened on the removed listener finishes there, with its upstream.
        assert.deepEqual(await app(JSON.stringify({ op: "finish", id: "h", data: "tail" })), {
          reply: "dynamic|held tail",
        });
      });
    });
  },
);
