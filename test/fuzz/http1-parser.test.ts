// Fuzzing the HTTP/1.1 codec with a seeded PRNG: mutated smuggling-corpus cases, generated requests (mostly valid,
// so the accept paths and round trips get exercised) and random bytes. For every input:
//   - nothing but Http1ParseError is ever thrown, and every call returns;
//   - feeding the bytes whole, in random pieces, or one byte at a time gives the same verdict, byte for byte;
//   - an accepted request has one unambiguous framing, and re-serializes and re-parses to the same request;
//   - a chunked body re-encodes and decodes to the same bytes and trailers.
// The seed is printed; FUZZ_SEED=<n> replays a run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ChunkedDecoder } from "../../src/proxy/http1/chunked.ts";
import { Http1ParseError } from "../../src/proxy/http1/errors.ts";
import { DEFAULT_HTTP1_LIMITS } from "../../src/proxy/http1/limits.ts";
import { parseRequestHead, type RequestHead } from "../../src/proxy/http1/request-head.ts";
import { parseResponseHead } from "../../src/proxy/http1/response-head.ts";
import { encodeChunk, LAST_CHUNK, serializeRequestHead, serializeTrailers } from "../../src/proxy/http1/serialize.ts";
import { Headers } from "../../src/proxy/http/headers.ts";
import { smugglingCases } from "../smuggling/corpus.ts";
import { drive, splitAt, summarize, type DrivenRequest } from "../smuggling/drive.ts";
import { mulberry32 } from "../../src/api/random.ts";
import { FUZZ_SCALE } from "./scale.ts";

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : 0x7e11_15ed;

const prng = mulberry32;

const rand = prng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const SPECIAL = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x2c, 0x3b, 0x30, 0x61, 0x0b, 0x0c, 0x7f, 0x80, 0xff, 0x22, 0x2f];
const INSERT_LINES = [
  "Content-Length: 5\r\n",
  "Content-Length: 0\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Transfer-Encoding: gzip\r\n",
  "Host: other.example\r\n",
  "Connection: close\r\n",
  "Connection: keep-alive, x-drop\r\n",
  "Upgrade: websocket\r\n",
  "Expect: 100-continue\r\n",
  "\r\n",
];

function lines(buf: Buffer): number[] {
  const starts = [0];
  for (let i = 0; i < buf.length - 1; i++) if (buf[i] === 0x0d && buf[i + 1] === 0x0a) starts.push(i + 2);
  return starts;
}

function mutate(input: Buffer): Buffer {
  let b = input;
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const at = int(b.length + 1);
    switch (int(9)) {
      case 0: // overwrite with a random byte
        if (b.length > 0) (b = Buffer.from(b))[Math.min(at, b.length - 1)] = int(256);
        break;
      case 1: // overwrite with a byte that matters to the grammar
        if (b.length > 0) (b = Buffer.from(b))[Math.min(at, b.length - 1)] = pick(SPECIAL);
        break;
      case 2: // insert such a byte
        b = Buffer.concat([b.subarray(0, at), Buffer.from([pick(SPECIAL)]), b.subarray(at)]);
        break;
      case 3: // delete a byte
        if (b.length > 0) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
        break;
      case 4: {
        // duplicate a line
        const ls = lines(b);
        const i = int(ls.length - 1);
        const line = b.subarray(ls[i], ls[i + 1]);
        b = Buffer.concat([b.subarray(0, ls[i + 1]), line, b.subarray(ls[i + 1])]);
        break;
      }
      case 5: {
        // insert a framing-relevant field line at a line start
        const ls = lines(b);
        const i = ls[int(ls.length)]!;
        b = Buffer.concat([b.subarray(0, i), Buffer.from(pick(INSERT_LINES), "latin1"), b.subarray(i)]);
        break;
      }
      case 6: // truncate
        b = b.subarray(0, at);
        break;
      case 7: // flip the case of a letter
        if (b.length > 0) {
          b = Buffer.from(b);
          const i = Math.min(at, b.length - 1);
          if ((b[i]! | 0x20) >= 0x61 && (b[i]! | 0x20) <= 0x7a) b[i] = b[i]! ^ 0x20;
        }
        break;
      case 8: // splice a piece of another corpus case in
        {
          const other = Buffer.from(pick(smugglingCases).raw, "latin1");
          const from = int(other.length);
          b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + int(40)), b.subarray(at)]);
        }
        break;
    }
  }
  return b;
}

const METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "PROPFIND", "get"];
const NAMES = [
  "Host",
  "User-Agent",
  "Accept",
  "X-Request-Id",
  "Cookie",
  "X_Under",
  "content-type",
  "Via",
  "TE",
  "Trailer",
];
const VALUE_CHARS = "abcXYZ019 -_.,;:/=\"'\t()*!~\x80\xe9\xff";

function randomValue(): string {
  let s = "";
  for (let n = int(12); n > 0; n--) s += VALUE_CHARS[int(VALUE_CHARS.length)];
  return s;
}

function randomTarget(method: string): string {
  if (method === "CONNECT") return pick(["example.com:443", "[::1]:8080", "a:1", "/x"]);
  if (method === "OPTIONS" && rand() < 0.3) return "*";
  const r = rand();
  if (r < 0.1)
    return (
      pick(["http://", "https://", "HTTP://"]) +
      pick(["example.com", "a:8080", "[::1]"]) +
      pick(["", "/", "/p?q", "?q"])
    );
  let t = "/";
  for (let n = int(20); n > 0; n--) t += "abz09-._~%/?=&+"[int(15)];
  return t;
}

function randomBody(chunked: boolean): string {
  if (!chunked) return "";
  let s = "";
  for (let n = int(4); n > 0; n--) {
    const len = 1 + int(20);
    const ext = rand() < 0.3 ? pick([";a", ";a=b", ';q="x y"', ";a=1;b"]) : "";
    s += len.toString(16) + ext + "\r\n" + "d".repeat(len) + "\r\n";
  }
  s += "0\r\n";
  if (rand() < 0.3) s += "X-Trailer: " + randomValue().trim() + "\r\n";
  return s + "\r\n";
}

/** A request that is valid most of the time, to exercise the accept paths. */
function generateRequest(): string {
  const method = pick(METHODS);
  const minor = rand() < 0.9 ? 1 : 0;
  let s = `${method} ${randomTarget(method)} HTTP/1.${minor}\r\n`;
  if (minor === 1 || rand() < 0.5) s += `Host: ${pick(["example.com", "a:80", "[::1]:1", ""])}\r\n`;
  for (let n = int(6); n > 0; n--) s += `${pick(NAMES)}:${rand() < 0.8 ? " " : ""}${randomValue()}\r\n`;
  const framing = method === "CONNECT" ? 0 : int(3);
  let body = "";
  if (framing === 1) {
    const len = int(30);
    s += `Content-Length: ${len}\r\n`;
    body = "b".repeat(len);
  } else if (framing === 2 && minor === 1) {
    s += "Transfer-Encoding: chunked\r\n";
    body = randomBody(true);
  }
  return s + "\r\n" + body;
}

function randomBytes(): Buffer {
  const b = Buffer.alloc(int(80));
  for (let i = 0; i < b.length; i++) b[i] = rand() < 0.5 ? int(256) : pick(SPECIAL);
  return b;
}

/** Framing invariants of an accepted request: exactly one way to read where its body ends. */
function checkFraming(r: DrivenRequest): void {
  const h = r.head;
  assert.ok(!(h.chunked && h.contentLength >= 0), "chunked and Content-Length at once");
  const te = h.headers.getJoined("transfer-encoding");
  const cls = h.headers.getAll("content-length");
  if (te !== undefined) {
    assert.equal(te.toLowerCase(), "chunked", "accepted a Transfer-Encoding other than chunked");
    assert.equal(h.chunked, true);
    assert.equal(cls.length, 0, "accepted Content-Length with Transfer-Encoding");
  } else assert.equal(h.chunked, false);
  assert.ok(cls.length <= 1, "accepted repeated Content-Length");
  if (cls.length === 1) assert.equal(h.contentLength, Number(cls[0]));
  else assert.equal(h.contentLength, -1);
  if (h.versionMinor === 1) assert.equal(h.headers.getAll("host").length, 1);
}

function withoutFraming(h: RequestHead): string[] {
  const out: string[] = [];
  const l = h.headers.list;
  for (let i = 0; i < l.length; i += 2) {
    if (l[i] === "host" || l[i] === "content-length" || l[i] === "transfer-encoding") continue;
    out.push(l[i]!, l[i + 1]!);
  }
  return out;
}

/** Re-serializes an accepted request and parses it again: the same request must come back. */
function checkRoundTrip(r: DrivenRequest): void {
  const h = r.head;
  const framing = { contentLength: h.chunked ? -1 : h.contentLength, chunked: h.chunked };
  const text = serializeRequestHead(h.method, h.target, h.host ?? "", h.headers, framing);
  const bytes = Buffer.from(text, "latin1");
  const again = parseRequestHead(bytes, 0, bytes.length, DEFAULT_HTTP1_LIMITS);
  assert.ok(again !== null, "serialized head is incomplete");
  assert.equal(again.headBytes, bytes.length);
  assert.equal(again.method, h.method);
  assert.equal(again.target, h.target);
  assert.equal(again.path, h.path);
  assert.equal(again.host ?? "", h.host ?? "");
  assert.deepEqual(withoutFraming(again), withoutFraming(h));
  assert.equal(again.contentLength, h.contentLength);
  assert.equal(again.chunked, h.chunked);
  // The serializer speaks HTTP/1.1, where Upgrade counts (it is ignored in an HTTP/1.0 request).
  if (h.versionMinor === 1) assert.equal(again.upgrade, h.upgrade);

  if (h.chunked) {
    // The body, re-encoded in chunks of another size, decodes to the same bytes and trailers.
    const parts: Buffer[] = [];
    for (let i = 0; i < r.body.length; i += 7) parts.push(...encodeChunk(r.body.subarray(i, i + 7)));
    const trailers = r.trailers === undefined ? undefined : new Headers(r.trailers.slice());
    const tail = trailers ? "0\r\n" + serializeTrailers(trailers) : LAST_CHUNK;
    const encoded = Buffer.concat([...parts, Buffer.from(tail, "latin1")]);
    const got: Buffer[] = [];
    const dec = new ChunkedDecoder();
    assert.equal(dec.push(encoded, 0, encoded.length, { data: (c) => void got.push(Buffer.from(c)) }), encoded.length);
    assert.ok(dec.done);
    assert.deepEqual(Buffer.concat(got), r.body);
    assert.deepEqual(dec.trailers?.list, r.trailers);
  }
}

function randomSplits(len: number): number[] {
  const n = int(6);
  const offsets = new Set<number>();
  for (let i = 0; i < n && len > 1; i++) offsets.add(1 + int(len - 1));
  return [...offsets].sort((a, b) => a - b);
}

const stats = { inputs: 0, accepted: 0, rejected: 0, incomplete: 0, trickled: 0, roundTrips: 0 };

function check(input: Buffer): void {
  stats.inputs++;
  const whole = drive([input]);
  const expected = summarize(whole);
  assert.deepEqual(summarize(drive(splitAt(input, randomSplits(input.length)))), expected, "random split differs");
  if (stats.inputs % 4 === 0 && input.length <= 700) {
    stats.trickled++;
    const all = Array.from({ length: Math.max(0, input.length - 1) }, (_, i) => i + 1);
    assert.deepEqual(summarize(drive(splitAt(input, all))), expected, "byte-by-byte differs");
  }
  for (const r of whole.requests) {
    checkFraming(r);
    checkRoundTrip(r);
    stats.roundTrips++;
  }
  if (whole.error) stats.rejected++;
  else if (whole.pending > 0) stats.incomplete++;
  else stats.accepted++;
}

function fail(input: Buffer, err: unknown): never {
  const detail = err instanceof Error ? err.stack : String(err);
  assert.fail(`seed ${SEED}, input ${JSON.stringify(input.toString("latin1"))}:\n${detail}`);
}

test(`HTTP/1.1 request codec survives fuzzing (seed ${SEED})`, (t) => {
  t.diagnostic(`seed ${SEED} (replay with FUZZ_SEED=${SEED}), scale ${FUZZ_SCALE}`);
  const seeds = smugglingCases.map((c) => Buffer.from(c.raw, "latin1"));
  // The plan is made and run one scale unit at a time, so a long run holds no more closures than a short one.
  for (let round = 0; round < FUZZ_SCALE; round++) {
    const plan: Array<() => Buffer> = [];
    for (let i = 0; i < 12_000; i++) plan.push(() => mutate(pick(seeds)));
    for (let i = 0; i < 6_000; i++) plan.push(() => Buffer.from(generateRequest(), "latin1"));
    for (let i = 0; i < 2_000; i++)
      plan.push(() => mutate(Buffer.from(generateRequest() + generateRequest(), "latin1")));
    for (let i = 0; i < 2_000; i++) plan.push(randomBytes);
    for (const make of plan) {
      const input = make();
      try {
        check(input);
      } catch (err) {
        fail(input, err);
      }
    }
  }
  t.diagnostic(JSON.stringify(stats));
  assert.equal(stats.inputs, 22_000 * FUZZ_SCALE);
  // The generators must exercise both outcomes in earnest, or the properties above prove little.
  assert.ok(stats.accepted > 4_000 * FUZZ_SCALE, `only ${stats.accepted} accepted`);
  assert.ok(stats.rejected > 4_000 * FUZZ_SCALE, `only ${stats.rejected} rejected`);
  assert.ok(stats.roundTrips > 5_000 * FUZZ_SCALE, `only ${stats.roundTrips} round trips`);
});

const RESPONSE_SEEDS = [
  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
  "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n",
  "HTTP/1.0 200\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
  "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nX: \xe9\r\n\r\n0\r\n\r\n",
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  "HTTP/1.1 500 \r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
];

test(`HTTP/1.1 response head parser survives fuzzing (seed ${SEED})`, () => {
  const methods = ["GET", "HEAD", "CONNECT"];
  for (let i = 0; i < 3_000 * FUZZ_SCALE; i++) {
    const input = mutate(Buffer.from(pick(RESPONSE_SEEDS), "latin1"));
    const method = pick(methods);
    try {
      // Whole, then growing prefixes: the first prefix that is not "incomplete" must give the same verdict.
      const verdict = (end: number): unknown => {
        try {
          const h = parseResponseHead(input, 0, end, DEFAULT_HTTP1_LIMITS, method);
          return h === null
            ? null
            : { status: h.status, headers: h.headers.list, bytes: h.headBytes, cl: h.contentLength };
        } catch (err) {
          if (err instanceof Http1ParseError) return { code: err.code, status: err.status };
          throw err;
        }
      };
      const whole = verdict(input.length);
      let prefix: unknown = null;
      for (let end = 0; end <= input.length && prefix === null; end++) prefix = verdict(end);
      assert.deepEqual(prefix, whole);
    } catch (err) {
      fail(input, err);
    }
  }
});
