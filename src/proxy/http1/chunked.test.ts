import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ChunkedDecoder } from "./chunked.ts";
import { Http1ParseError } from "./errors.ts";

function collect() {
  const chunks: Buffer[] = [];
  return { chunks, sink: { data: (c: Buffer) => void chunks.push(c) } };
}

function decodeError(raw: string, dec = new ChunkedDecoder()): { code: string; status: number } {
  const b = Buffer.from(raw, "latin1");
  try {
    dec.push(b, 0, b.length, collect().sink);
  } catch (err) {
    assert.ok(err instanceof Http1ParseError);
    return { code: err.code, status: err.status };
  }
  assert.fail("expected an Http1ParseError");
}

describe("ChunkedDecoder", () => {
  test("decodes chunks into views of the input and stops after the final CRLF", () => {
    const body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
    const input = Buffer.from(body + "GET / HTTP/1.1\r\n", "latin1");
    const { chunks, sink } = collect();
    const dec = new ChunkedDecoder();
    assert.equal(dec.push(input, 0, input.length, sink), body.length);
    assert.equal(dec.done, true);
    assert.equal(dec.trailers, undefined);
    assert.deepEqual(
      chunks.map((c) => c.toString()),
      ["hello", " world"],
    );
    for (const c of chunks) assert.equal(c.buffer, input.buffer, "data must be a view, not a copy");
    assert.equal(dec.push(input, body.length, input.length, sink), 0, "nothing more is consumed once done");
  });

  test("byte by byte gives the same data, trailers and consumed count", () => {
    const raw = 'A\r\n0123456789\r\n1;a="x\\"y"\r\n!\r\n0\r\nX-Sum: abc\r\nX-Two:  2 \r\n\r\nNEXT';
    const input = Buffer.from(raw, "latin1");
    const dec = new ChunkedDecoder();
    const got: string[] = [];
    let used = 0;
    for (let i = 0; i < input.length && !dec.done; i++) {
      used += dec.push(input, i, i + 1, { data: (c) => void got.push(c.toString("latin1")) });
    }
    assert.equal(used, raw.length - 4);
    assert.equal(got.join(""), "0123456789!");
    assert.deepEqual(dec.trailers!.list, ["x-sum", "abc", "x-two", "2"]);
  });

  test("data split across pushes arrives in pieces", () => {
    const input = Buffer.from("8\r\nabcdefgh\r\n0\r\n\r\n");
    const dec = new ChunkedDecoder();
    const { chunks, sink } = collect();
    assert.equal(dec.push(input, 0, 6, sink), 6);
    assert.equal(dec.push(input, 6, input.length, sink), input.length - 6);
    assert.deepEqual(
      chunks.map((c) => c.toString()),
      ["abc", "defgh"],
    );
  });

  test("reset makes it ready for the next message", () => {
    const dec = new ChunkedDecoder();
    const a = Buffer.from("0\r\nX: 1\r\n\r\n");
    dec.push(a, 0, a.length, collect().sink);
    assert.ok(dec.done && dec.trailers !== undefined);
    dec.reset();
    assert.equal(dec.done, false);
    assert.equal(dec.trailers, undefined);
    const b = Buffer.from("1\r\nz\r\n0\r\n\r\n");
    assert.equal(dec.push(b, 0, b.length, collect().sink), b.length);
    assert.ok(dec.done);
  });

  test("chunk-size: 16 hex digits at most, within a safe integer, leading zeros fine", () => {
    const dec = new ChunkedDecoder();
    const b = Buffer.from("000000000000001\r\nx\r\n0\r\n\r\n");
    assert.equal(dec.push(b, 0, b.length, collect().sink), b.length);
    assert.deepEqual(decodeError("00000000000000001\r\n"), { code: "HPE_INVALID_CHUNK_SIZE", status: 400 });
    assert.deepEqual(decodeError("20000000000000\r\n"), { code: "HPE_INVALID_CHUNK_SIZE", status: 400 });
    // 1fffffffffffff = MAX_SAFE_INTEGER: accepted as a size (the data never comes here).
    const big = new ChunkedDecoder();
    const s = Buffer.from("1fffffffffffff\r\n");
    assert.equal(big.push(s, 0, s.length, collect().sink), s.length);
  });

  test("strict framing errors", () => {
    const cases: [string, string][] = [
      ["0x5\r\n", "HPE_INVALID_CHUNK_SIZE"],
      ["5 \r\n", "HPE_INVALID_CHUNK_SIZE"],
      [" 5\r\n", "HPE_INVALID_CHUNK_SIZE"],
      ["-5\r\n", "HPE_INVALID_CHUNK_SIZE"],
      ["\r\n", "HPE_INVALID_CHUNK_SIZE"],
      ["5\n", "HPE_INVALID_CHUNK_SIZE"],
      ["5\rx", "HPE_LF_EXPECTED"],
      ["5;\r\n", "HPE_INVALID_CHUNK_EXTENSION"],
      ["5;a=\r\n", "HPE_INVALID_CHUNK_EXTENSION"],
      ["5;a b\r\n", "HPE_INVALID_CHUNK_EXTENSION"],
      ['5;a="x\x00"\r\n', "HPE_INVALID_CHUNK_EXTENSION"],
      ['5;a="x"y\r\n', "HPE_INVALID_CHUNK_EXTENSION"],
      ["5\r\nhelloX", "HPE_INVALID_CHUNK_DATA"],
      ["5\r\nhello\rX", "HPE_LF_EXPECTED"],
      ["0\r\n\rX", "HPE_LF_EXPECTED"],
      ["0\r\nBad Name: v\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["0\r\nX: v\n\r\n", "HPE_CR_EXPECTED"],
      ["0\r\n folded\r\n\r\n", "HPE_OBS_FOLD"],
    ];
    for (const [raw, code] of cases) assert.equal(decodeError(raw).code, code, JSON.stringify(raw));
  });

  test("limits: trailer section and chunk extensions; the error status is configurable", () => {
    assert.deepEqual(decodeError("0\r\nX: " + "v".repeat(40) + "\r\n\r\n", new ChunkedDecoder(32)), {
      code: "HPE_TRAILER_OVERFLOW",
      status: 400,
    });
    assert.equal(decodeError("1;" + "a".repeat(17000) + "\r\n").code, "HPE_CHUNK_EXTENSIONS_OVERFLOW");
    assert.equal(decodeError("zz", new ChunkedDecoder(16384, 502)).status, 502);
  });
});
