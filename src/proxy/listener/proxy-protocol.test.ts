// The PROXY protocol header parser on hand-written bytes: v1 and v2, every way a header can be cut, too long,
// malformed, a LOCAL command, TLVs, and bytes that are no header at all.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseProxyHeader, V2_SIGNATURE, V1_MAX_LENGTH } from "./proxy-protocol.ts";

const v1 = (s: string): Buffer => Buffer.from(s, "latin1");

/** A v2 header: version 2, `command` (0 LOCAL, 1 PROXY), family/protocol byte, then `body`. */
function v2(command: number, familyProtocol: number, body: Buffer): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | command;
  fixed[1] = familyProtocol;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

function inet4(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  src.split(".").forEach((o, i) => (b[i] = Number(o)));
  dst.split(".").forEach((o, i) => (b[4 + i] = Number(o)));
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function tlv(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(3);
  h[0] = type;
  h.writeUInt16BE(value.length, 1);
  return Buffer.concat([h, value]);
}

describe("PROXY protocol v1", () => {
  test("TCP4: addresses, ports and the header's length (what follows is not part of it)", () => {
    const header = "PROXY TCP4 192.0.2.10 198.51.100.7 51234 8080\r\n";
    const h = parseProxyHeader(v1(header + "GET / HTTP/1.1\r\n"));
    assert.deepEqual(h, {
      kind: "header",
      version: 1,
      length: header.length,
      addresses: {
        sourceAddress: "192.0.2.10",
        sourcePort: 51234,
        destinationAddress: "198.51.100.7",
        destinationPort: 8080,
      },
    });
  });

  test("TCP6 and UNKNOWN (the connection keeps its own addresses)", () => {
    const h = parseProxyHeader(v1("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n"));
    assert.equal(h.kind, "header");
    assert.equal(h.kind === "header" && h.addresses?.sourceAddress, "2001:db8::1");
    const unknown = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
    const u = parseProxyHeader(v1(unknown + "rest"));
    assert.deepEqual(u, { kind: "header", version: 1, length: unknown.length, addresses: undefined });
  });

  test("cut anywhere before the CRLF: wait for more", () => {
    const header = "PROXY TCP4 192.0.2.10 198.51.100.7 51234 8080\r\n";
    for (let n = 1; n < header.length; n++)
      assert.equal(parseProxyHeader(v1(header.slice(0, n))).kind, "incomplete", `${n} bytes`);
  });

  test("no CRLF within 107 bytes: an error, not a wait", () => {
    const long = "PROXY TCP4 " + "1".repeat(V1_MAX_LENGTH);
    const h = parseProxyHeader(v1(long));
    assert.equal(h.kind, "error");
  });

  test("malformed: wrong field count, bad address, bad port, a lone LF, unknown protocol", () => {
    for (const bad of [
      "PROXY TCP4 192.0.2.10 198.51.100.7 51234\r\n",
      "PROXY TCP4 192.0.2.300 198.51.100.7 1 2\r\n",
      "PROXY TCP4 2001:db8::1 198.51.100.7 1 2\r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.7 1 65536\r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.7 -1 2\r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.7 1 2\n",
      "PROXY UDP4 192.0.2.1 198.51.100.7 1 2\r\n",
      "PROXY TCP4  192.0.2.1 198.51.100.7 1 2\r\n",
    ])
      assert.equal(parseProxyHeader(v1(bad)).kind, "error", JSON.stringify(bad));
  });
});

describe("PROXY protocol v2", () => {
  test("PROXY over TCP/IPv4 with TLVs: the TLVs are part of the header and skipped", () => {
    const body = Buffer.concat([
      inet4("203.0.113.5", "10.0.0.1", 40000, 443),
      tlv(0x01, Buffer.from("h2")), // PP2_TYPE_ALPN
      tlv(0x04, Buffer.alloc(0)), // PP2_TYPE_NOOP
    ]);
    const header = v2(1, 0x11, body);
    const h = parseProxyHeader(Buffer.concat([header, Buffer.from("after")]));
    assert.deepEqual(h, {
      kind: "header",
      version: 2,
      length: header.length,
      addresses: {
        sourceAddress: "203.0.113.5",
        sourcePort: 40000,
        destinationAddress: "10.0.0.1",
        destinationPort: 443,
      },
    });
  });

  test("PROXY over TCP/IPv6: the addresses in their canonical form", () => {
    const body = Buffer.alloc(36);
    body.writeUInt16BE(0x2001, 0);
    body.writeUInt16BE(0x0db8, 2);
    body.writeUInt16BE(0x0001, 14); // 2001:db8::1
    body.writeUInt16BE(0xfe80, 16);
    body.writeUInt16BE(0x0002, 30); // fe80::2
    body.writeUInt16BE(1234, 32);
    body.writeUInt16BE(80, 34);
    const h = parseProxyHeader(v2(1, 0x21, body));
    assert.equal(h.kind, "header");
    assert.deepEqual(h.kind === "header" && h.addresses, {
      sourceAddress: "2001:db8::1",
      destinationAddress: "fe80::2",
      sourcePort: 1234,
      destinationPort: 80,
    });
  });

  test("LOCAL command and AF_UNSPEC: the whole header is skipped, the connection keeps its addresses", () => {
    const local = v2(0, 0x11, inet4("1.2.3.4", "5.6.7.8", 1, 2));
    assert.deepEqual(parseProxyHeader(local), { kind: "header", version: 2, length: 28, addresses: undefined });
    const unspec = v2(1, 0x00, Buffer.alloc(0));
    assert.deepEqual(parseProxyHeader(unspec), { kind: "header", version: 2, length: 16, addresses: undefined });
  });

  test("cut anywhere (signature, fixed part, addresses, TLVs): wait for more", () => {
    const header = v2(1, 0x11, Buffer.concat([inet4("1.2.3.4", "5.6.7.8", 1, 2), tlv(0x02, Buffer.from("authority"))]));
    for (let n = 1; n < header.length; n++)
      assert.equal(parseProxyHeader(header.subarray(0, n)).kind, "incomplete", `${n} bytes`);
  });

  test("malformed: version 1 in the v2 form, an unknown command, UDP, AF_UNIX, an address block too short", () => {
    const good = v2(1, 0x11, inet4("1.2.3.4", "5.6.7.8", 1, 2));
    const badVersion = Buffer.from(good);
    badVersion[12] = 0x11;
    const badCommand = Buffer.from(good);
    badCommand[12] = 0x2f;
    for (const [name, bytes] of [
      ["version", badVersion],
      ["command", badCommand],
      ["udp", v2(1, 0x12, inet4("1.2.3.4", "5.6.7.8", 1, 2))],
      ["unix", v2(1, 0x31, Buffer.alloc(216))],
      ["short inet", v2(1, 0x11, Buffer.alloc(8))],
      ["short inet6", v2(1, 0x21, Buffer.alloc(20))],
    ] as const)
      assert.equal(parseProxyHeader(bytes).kind, "error", name);
  });
});

test("bytes that start no header are told apart at once; a prefix of a signature waits", () => {
  assert.equal(parseProxyHeader(v1("GET / HTTP/1.1\r\n")).kind, "not_proxy");
  assert.equal(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01])).kind, "not_proxy"); // a TLS record
  assert.equal(parseProxyHeader(v1("PRI * HTTP/2.0")).kind, "not_proxy"); // the h2 preface shares only "P"
  assert.equal(parseProxyHeader(v1("PRO")).kind, "incomplete");
  assert.equal(parseProxyHeader(V2_SIGNATURE.subarray(0, 5)).kind, "incomplete");
  assert.equal(parseProxyHeader(v1("\r\n\r\nX")).kind, "not_proxy");
});
