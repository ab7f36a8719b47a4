// A request head that arrives in many small reads costs work linear in its size: the connection remembers where its
// scan stopped instead of parsing (and copying) the head from its start on every read. Counted, not timed: the
// parser and the read buffer keep work counters, and a 60 KB head fed one byte at a time must stay within a small
// multiple of its length (the quadratic algorithm does ~head²/2, i.e. over a billion bytes).

import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { ManualClock } from "../../src/api/clock.ts";
import { Http1ServerConnection, readCopyWork } from "../../src/proxy/http1/connection.ts";
import { headParseWork } from "../../src/proxy/http1/request-head.ts";
import { DEFAULT_LIMITS } from "../../src/proxy/http1/limits.ts";
import type { Exchange } from "../../src/proxy/http/exchange.ts";

/** A server-side socket of a real loopback connection, and its client end. */
async function socketPair(): Promise<{ server: net.Socket; client: net.Socket; close(): void }> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const accepted = new Promise<net.Socket>((r) => listener.once("connection", r));
  const client = net.connect((listener.address() as AddressInfo).port, "127.0.0.1");
  client.on("error", () => {});
  const server = await accepted;
  return {
    server,
    client,
    close: () => {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

function connection(socket: net.Socket, onExchange: (ex: Exchange) => void): Http1ServerConnection {
  return new Http1ServerConnection(socket, onExchange, {
    clock: new ManualClock(),
    limits: DEFAULT_LIMITS,
    bufferLimitBytes: 1 << 20,
    idleTimeoutMs: 0,
    requestTimeoutMs: 0,
    requestHeadersTimeoutMs: 0,
    streamIdleTimeoutMs: 0,
    serverName: "test",
    onExchangeComplete: () => {},
    onProtocolError: () => {},
    onExchangeTimeout: () => {},
  });
}

/** ~59 KB: a request line, 40 fields of 1 KB and one 18 KB field (a long line is the worst case for re-scans). */
function bigHead(): Buffer {
  let s = "GET /slow HTTP/1.1\r\nHost: example.com\r\n";
  for (let i = 0; i < 40; i++) s += `x-f${i}: ${"v".repeat(1000)}\r\n`;
  s += `x-long: ${"L".repeat(18_000)}\r\n\r\n`;
  return Buffer.from(s, "latin1");
}

test("a 59 KB head fed one byte per read is parsed and copied in work linear in its size", async () => {
  const pair = await socketPair();
  try {
    const seen: Exchange[] = [];
    const conn = connection(pair.server, (ex) => void seen.push(ex));
    const head = bigHead();
    const parsedBefore = headParseWork.bytes;
    const copiedBefore = readCopyWork.bytes;
    for (let i = 0; i < head.length; i++) conn.feed(head.subarray(i, i + 1));
    assert.equal(seen.length, 1, "the head completed exactly once");
    const ex = seen[0]!;
    assert.equal(ex.path, "/slow");
    assert.equal(ex.headers.get("x-long"), "L".repeat(18_000));
    assert.equal(ex.headers.get("x-f39"), "v".repeat(1000));
    const parsed = headParseWork.bytes - parsedBefore;
    const copied = readCopyWork.bytes - copiedBefore;
    assert.ok(parsed <= 3 * head.length, `parser examined ${parsed} bytes for a ${head.length}-byte head`);
    assert.ok(copied <= 3 * head.length, `reads were copied ${copied} bytes for a ${head.length}-byte head`);
  } finally {
    pair.close();
  }
});

test("a head split into 1-byte reads gets the same verdict as whole: a bad byte late in a line is still refused", async () => {
  const pair = await socketPair();
  try {
    const errors: string[] = [];
    const conn = new Http1ServerConnection(pair.server, () => assert.fail("no exchange for a bad head"), {
      clock: new ManualClock(),
      limits: DEFAULT_LIMITS,
      bufferLimitBytes: 1 << 20,
      idleTimeoutMs: 0,
      requestTimeoutMs: 0,
      requestHeadersTimeoutMs: 0,
      streamIdleTimeoutMs: 0,
      serverName: "test",
      onExchangeComplete: () => {},
      onProtocolError: (_d, err) => void errors.push(err.code),
      onExchangeTimeout: () => {},
    });
    const bad = Buffer.from("GET / HTTP/1.1\r\nHost: a\r\nx-ok: 1\r\nx-bad: a\x00b\r\n\r\n", "latin1");
    for (let i = 0; i < bad.length && errors.length === 0; i++) conn.feed(bad.subarray(i, i + 1));
    assert.deepEqual(errors, ["HPE_INVALID_HEADER_VALUE"]);
  } finally {
    pair.close();
  }
});
