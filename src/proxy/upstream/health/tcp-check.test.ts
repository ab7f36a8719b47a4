import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { parseHealthCheck } from "../../../api/xds/parse/health-check.ts";
import type { TcpHealthCheck } from "../../../api/xds/types.ts";
import type { CheckResult } from "./probe.ts";
import { TcpProbe, fuzzyMatch } from "./tcp-check.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP server that hands each chunk it receives to `onData`, with the socket to answer on. */
async function server(onData: (socket: net.Socket, data: Buffer) => void) {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const srv = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.on("data", (d: Buffer) => onData(s, d));
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  );
  const port = (srv.address() as AddressInfo).port;
  return { port, connections: () => connections };
}

function tcpCheck(tcp: Record<string, unknown>): TcpHealthCheck {
  const hc = parseHealthCheck({
    timeout: "1s",
    interval: "1s",
    unhealthy_threshold: 1,
    healthy_threshold: 1,
    tcp_health_check: tcp,
  });
  return hc.check as TcpHealthCheck;
}

function probe(port: number, tcp: Record<string, unknown>, reuse = true): TcpProbe {
  const p = new TcpProbe({ address: "127.0.0.1", port, key: `127.0.0.1:${port}` }, tcpCheck(tcp), reuse);
  cleanups.push(() => p.close());
  return p;
}

const run = (p: TcpProbe): Promise<CheckResult> => new Promise((resolve) => p.check(resolve));

describe("TCP health check", () => {
  test("fuzzy match: every block, in order, gaps allowed", () => {
    const b = (s: string) => Uint8Array.from(Buffer.from(s));
    assert.equal(fuzzyMatch([b("PO"), b("NG")], Buffer.from("xxPOyyNGzz")), true);
    assert.equal(fuzzyMatch([b("NG"), b("PO")], Buffer.from("PONG")), false);
    assert.equal(fuzzyMatch([b("PO"), b("PO")], Buffer.from("PO")), false);
    assert.equal(fuzzyMatch([], Buffer.alloc(0)), true);
  });

  test("send/receive: passes once every block has arrived, across reads, on one reused connection", async () => {
    const got: string[] = [];
    const srv = await server((s, d) => {
      got.push(d.toString());
      s.write("P");
      setImmediate(() => s.write("ONG and more"));
    });
    const p = probe(srv.port, {
      send: { text: Buffer.from("PING").toString("hex") },
      receive: [{ text: "504f" }, { text: "4e47" }],
    });
    assert.deepEqual(await run(p), { ok: true });
    assert.deepEqual(await run(p), { ok: true });
    assert.deepEqual(got, ["PING", "PING"]);
    assert.equal(srv.connections(), 1);
  });

  test("a connection closed before every block arrived is a network failure", async () => {
    const srv = await server((s) => s.end("NOPE"));
    const p = probe(srv.port, { send: { text: "00" }, receive: [{ text: "4f4b" }] });
    assert.deepEqual(await run(p), {
      ok: false,
      type: "network",
      retriable: false,
      reason: "connection closed before the expected answer",
    });
  });

  test("connect-only: connecting passes and the connection is closed; refused fails", async () => {
    const srv = await server(() => {});
    assert.deepEqual(await run(probe(srv.port, {})), { ok: true });
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await run(probe(port, {}));
    assert.equal(refused.ok, false);
    assert.match((refused as { reason: string }).reason, /connection failed: ECONNREFUSED/);
  });

  test("reuse_connection false: a connection per check", async () => {
    const srv = await server((s) => s.write("OK"));
    const p = probe(srv.port, { send: { text: "00" }, receive: [{ text: "4f4b" }] }, false);
    await run(p);
    await run(p);
    assert.equal(srv.connections(), 2);
  });
});
