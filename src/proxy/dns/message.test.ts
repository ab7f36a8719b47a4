import { test } from "node:test";
import assert from "node:assert/strict";
import {
  addressOf,
  buildMessage,
  DnsFormatError,
  parseMessage,
  readHeader,
  RCODE,
  TYPE,
  CLASS_IN,
  udpSizeOf,
  withId,
} from "./message.ts";

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
}

test("a query with EDNS OPT: header, question and OPT's payload size read back", () => {
  const q = buildMessage({
    header: { id: 0xbeef, recursionDesired: true },
    questions: [{ name: "Meeting.Default.svc.cluster.local", type: TYPE.A, class: CLASS_IN }],
    additionals: [{ name: "", type: TYPE.OPT, class: 1232, ttl: 0, data: new Uint8Array() }],
  });
  const m = parseMessage(q);
  assert.equal(m.header.id, 0xbeef);
  assert.equal(m.header.recursionDesired, true);
  assert.equal(m.header.response, false);
  assert.deepEqual(m.questions, [{ name: "Meeting.Default.svc.cluster.local", type: TYPE.A, class: CLASS_IN }]);
  assert.equal(udpSizeOf(m), 1232);
  assert.equal(withId(q, 7)[1], 7);
  assert.equal(readHeader(withId(q, 0x1234))!.id, 0x1234);
});

test("answers: CNAME then A and AAAA, names compressed against the question, addresses read back", () => {
  const r = buildMessage({
    header: { id: 1, response: true, authoritative: true, rcode: RCODE.NOERROR },
    questions: [{ name: "meeting.default.default.svc.cluster.local", type: TYPE.A, class: CLASS_IN }],
    answers: [
      { name: "meeting.default.default.svc.cluster.local", type: TYPE.CNAME, ttl: 30, target: "meeting.default" },
      { name: "meeting.default", type: TYPE.A, ttl: 30, address: "240.240.3.7" },
      { name: "meeting.default", type: TYPE.AAAA, ttl: 30, address: "2001:db8::7" },
      { name: "meeting.default", type: TYPE.AAAA, ttl: 30, address: "::ffff:10.0.0.1" },
    ],
  });
  const m = parseMessage(r);
  assert.equal(m.header.authoritative, true);
  assert.deepEqual(
    m.answers.map((a) => [a.name, a.type, a.ttl, addressOf(a)]),
    [
      ["meeting.default.default.svc.cluster.local", TYPE.CNAME, 30, undefined],
      ["meeting.default", TYPE.A, 30, "240.240.3.7"],
      ["meeting.default", TYPE.AAAA, 30, "2001:db8:0:0:0:0:0:7"],
      ["meeting.default", TYPE.AAAA, 30, "0:0:0:0:0:ffff:a00:1"],
    ],
  );
  // Header 12, question 47, CNAME 2+10+17 (its target written once), A 2+10+4, two AAAA 2+10+16: every owner name
  // after the first is a 2-byte pointer (uncompressed it would be 248 bytes).
  assert.equal(r.length, 160);
});

test("hostile packets: pointer loops, forward pointers, truncated labels, inflated counts → DnsFormatError", () => {
  const header = (qd: number, an = 0) =>
    "abcd0100" + qd.toString(16).padStart(4, "0") + an.toString(16).padStart(4, "0") + "00000000";
  const cases: [string, string][] = [
    ["self pointer", header(1) + "c00c 0001 0001"],
    ["forward pointer", header(1) + "c00e 00 0001 0001"],
    ["label past the end", header(1) + "3f616263"],
    ["name without its end", header(1) + "03616263"],
    ["pointer cut short", header(1) + "c0"],
    ["reserved label type", header(1) + "40 00 0001 0001"],
    ["counts larger than the packet", header(65535, 65535) + "00 0001 0001"],
    ["question cut short", header(1) + "00 0001"],
    ["rdata past the end", header(1, 1) + "00 0001 0001" + "c00c 0001 0001 0000001e 0010 0a00"],
  ];
  for (const [what, bytes] of cases) assert.throws(() => parseMessage(hex(bytes)), DnsFormatError, what);
  assert.throws(() => parseMessage(hex("abcd01")), DnsFormatError);
  assert.equal(readHeader(hex("abcd01")), undefined);
  // A chain of backward pointers is followed, and a name of more than 255 octets is refused.
  const long = "3f" + "61".repeat(63);
  assert.throws(() => parseMessage(hex(header(1) + long.repeat(4) + "00 0001 0001")), /255 octets/);
});

test("escaped octets in a label survive a round trip", () => {
  const name = "a\\.b.\\000x.example";
  const m = parseMessage(buildMessage({ header: { id: 2 }, questions: [{ name, type: TYPE.TXT, class: CLASS_IN }] }));
  assert.equal(m.questions[0]!.name, name);
});
