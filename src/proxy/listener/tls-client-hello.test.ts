// The ClientHello reader against real node:tls hellos, hand-built ones, every truncation, and seeded random
// mutations: it must always answer (never throw, never claim more than the bytes say) — the input is the network's.
// FUZZ_SEED=<n> replays a run; FUZZ_SCALE=<n> runs n times as many mutations (npm run fuzz).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../../api/random.ts";
import {
  alpnExtension,
  captureClientHello,
  clientHello,
  clientHelloMessage,
  extension,
  records,
  sniExtension,
} from "../../../test/support/client-hello.ts";
import { FUZZ_SCALE } from "../../../test/fuzz/scale.ts";
import { MAX_CLIENT_HELLO_BYTES, parseClientHello, type ClientHelloResult } from "./tls-client-hello.ts";

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : 0x5e1_c0de;
const KINDS = new Set(["incomplete", "not_tls", "too_large", "tls"]);

function parse(data: Buffer): ClientHelloResult {
  const result = parseClientHello(data);
  assert.ok(KINDS.has(result.kind));
  return result;
}

describe("TLS ClientHello reader", () => {
  test("a real node:tls ClientHello: SNI and ALPN", async () => {
    const bytes = await captureClientHello("a.example.com", ["h2", "http/1.1"]);
    assert.deepEqual(parse(bytes), { kind: "tls", serverName: "a.example.com", alpn: ["h2", "http/1.1"] });
    const bare = await captureClientHello(undefined);
    assert.deepEqual(parse(bare), { kind: "tls", serverName: "", alpn: [] });
  });

  test("hand-built hellos: extensions, none at all, several records", () => {
    assert.deepEqual(parse(clientHello({ sni: "B.Example.com", alpn: ["h2"] })), {
      kind: "tls",
      serverName: "B.Example.com",
      alpn: ["h2"],
    });
    assert.deepEqual(parse(records(clientHelloMessage(undefined))), { kind: "tls", serverName: "", alpn: [] });
    // A hello split over 1-byte records, then over 7-byte ones, reads the same.
    for (const maxFragment of [1, 7])
      assert.deepEqual(parse(clientHello({ sni: "split.example.com", maxFragment })), {
        kind: "tls",
        serverName: "split.example.com",
        alpn: [],
      });
  });

  test("plain text is told apart from the first byte", () => {
    assert.equal(parse(Buffer.from("G")).kind, "not_tls");
    assert.equal(parse(Buffer.from("GET / HTTP/1.1\r\n\r\n")).kind, "not_tls");
    assert.equal(parse(Buffer.from("PRI * HTTP/2.0\r\n")).kind, "not_tls");
    assert.equal(parse(Buffer.from([0x16])).kind, "incomplete");
    assert.equal(parse(Buffer.from([0x16, 0x04])).kind, "not_tls");
    assert.equal(parse(Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28])).kind, "not_tls"); // an alert
    assert.equal(parse(Buffer.alloc(0)).kind, "incomplete");
  });

  test("every truncation of a hello is incomplete, never an answer made up from missing bytes", async () => {
    for (const bytes of [
      clientHello({ sni: "a.example.com", alpn: ["h2"], maxFragment: 50 }),
      await captureClientHello("x.y"),
    ]) {
      for (let n = 0; n < bytes.length; n++)
        assert.equal(parse(bytes.subarray(0, n)).kind, "incomplete", `prefix ${n}`);
      assert.equal(parse(bytes).kind, "tls");
    }
  });

  test("malformed hellos are not TLS (Envoy: tls_not_found), huge ones too large", () => {
    const body = (ext: Buffer[]): Buffer => records(clientHelloMessage(ext));
    // Zero-length SNI host name; two host names; an empty ALPN name; an empty ALPN list.
    assert.equal(parse(body([sniExtension("")])).kind, "not_tls");
    const twoNames = extension(0, Buffer.from([0, 8, 0, 0, 1, 0x61, 0, 0, 1, 0x62]));
    assert.equal(parse(body([twoNames])).kind, "not_tls");
    assert.equal(parse(body([extension(16, Buffer.from([0, 1, 0]))])).kind, "not_tls");
    assert.equal(parse(body([extension(16, Buffer.from([0, 0]))])).kind, "not_tls");
    // The same extension twice.
    assert.equal(parse(body([alpnExtension(["h2"]), alpnExtension(["h2"])])).kind, "not_tls");
    // An extension whose length points past the end of the block; a list length past the extension.
    assert.equal(parse(body([Buffer.from([0, 0, 0xff, 0xff, 0, 0])])).kind, "not_tls");
    assert.equal(parse(body([extension(0, Buffer.from([0xff, 0xff, 0, 0, 1, 0x61]))])).kind, "not_tls");
    // ALPN entry length past its list.
    assert.equal(parse(body([extension(16, Buffer.from([0, 2, 9, 0x61]))])).kind, "not_tls");
    // A session id longer than 32 bytes; an odd cipher suite length.
    const message = clientHelloMessage([]);
    const longSession = Buffer.from(message);
    longSession[4 + 34] = 33;
    assert.equal(parse(records(longSession)).kind, "not_tls");
    const oddSuites = Buffer.from(message);
    oddSuites.writeUInt16BE(3, 4 + 34 + 1 + 32);
    assert.equal(parse(records(oddSuites)).kind, "not_tls");
    // Not a ClientHello (a ServerHello), and a record of length 0 or beyond 2^14 + 2048.
    const serverHello = Buffer.from(message);
    serverHello[0] = 2;
    assert.equal(parse(records(serverHello)).kind, "not_tls");
    assert.equal(parse(Buffer.from([0x16, 3, 1, 0, 0])).kind, "not_tls");
    assert.equal(parse(Buffer.from([0x16, 3, 1, 0xff, 0xff, 1])).kind, "not_tls");
    // A handshake length beyond 16 KiB: too large at once, without waiting for the bytes.
    assert.equal(parse(Buffer.from([0x16, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff])).kind, "too_large");
    // A hello that never ends: 1-byte records up to the limit.
    const endless = records(Buffer.concat([Buffer.from([1, 0, 0x3f, 0xf0]), Buffer.alloc(MAX_CLIENT_HELLO_BYTES)]), 1);
    assert.equal(parse(endless.subarray(0, MAX_CLIENT_HELLO_BYTES)).kind, "too_large");
  });

  test(`seeded mutations never throw (seed ${SEED})`, async () => {
    const rand = mulberry32(SEED);
    const int = (n: number): number => Math.floor(rand() * n);
    const seeds = [
      clientHello({ sni: "a.example.com", alpn: ["h2", "http/1.1"] }),
      clientHello({ sni: "b.example.com", maxFragment: 40 }),
      await captureClientHello("c.example.com", ["h2"]),
    ];
    for (let i = 0; i < 20_000 * FUZZ_SCALE; i++) {
      const input = Buffer.from(seeds[int(seeds.length)]!);
      const edits = 1 + int(4);
      for (let e = 0; e < edits; e++) {
        const at = int(input.length);
        switch (int(3)) {
          case 0:
            input[at] = int(256);
            break;
          case 1:
            input[at] = [0, 0xff, 1, 0x7f][int(4)]!;
            break;
          default:
            if (at + 1 < input.length) input.writeUInt16BE([0, 0xffff, int(65536), 1][int(4)]!, at);
        }
      }
      const cut = rand() < 0.3 ? input.subarray(0, int(input.length + 1)) : input;
      const result = parse(cut);
      if (result.kind === "tls") {
        // Whatever was found came from the bytes: never longer than the input.
        assert.ok(result.serverName.length < cut.length);
        for (const p of result.alpn) assert.ok(p.length > 0 && p.length < cut.length);
      }
    }
  });
});
