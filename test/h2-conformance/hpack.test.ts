// HTTP/2 conformance, RFC 7541 (HPACK) as RFC 9113 §4.3 applies it: a header block the proxy cannot decode is a
// connection error of type COMPRESSION_ERROR. Blocks are written byte by byte (indices, table size updates, Huffman
// strings), against a real sidecar listener; each test asserts the answer and that the sidecar keeps serving, and the
// valid ones check what reached the upstream.

import { test } from "node:test";
import assert from "node:assert/strict";
import { E, headers, hpack, hpackInt, huffmanEncode, requestFields } from "../support/h2-wire.ts";
import { h2Conformance } from "../support/h2-sidecar.ts";

/** A string literal (RFC 7541 §5.2), raw or Huffman-coded. */
function str(s: string | Buffer, huffman = false): Buffer {
  const bytes = Buffer.isBuffer(s) ? s : huffman ? huffmanEncode(s) : Buffer.from(s, "latin1");
  return Buffer.concat([hpackInt(bytes.length, 7, huffman ? 0x80 : 0), bytes]);
}

const indexed = (i: number): Buffer => hpackInt(i, 7, 0x80);
/** Literal with incremental indexing, new name (§6.2.1). */
const literalIndexed = (name: string, value: string): Buffer =>
  Buffer.concat([Buffer.from([0x40]), str(name), str(value)]);
/** Literal without indexing, indexed name (§6.2.2). */
const literalNameRef = (index: number, value: Buffer): Buffer => Buffer.concat([hpackInt(index, 4, 0), value]);
const tableSizeUpdate = (size: number): Buffer => hpackInt(size, 5, 0x20);

/** A GET for `path` (pseudo-headers as literals) with `extra` header block bytes after them. */
function request(id: number, path: string, ...extra: Buffer[]): Buffer {
  return headers(id, Buffer.concat([hpack(requestFields(path)), ...extra]), { endStream: true });
}

h2Conformance("RFC 7541 HPACK decoding errors: COMPRESSION_ERROR", (t) => {
  test("an indexed field with index 0 (§6.1)", () => t.goaway(E.COMPRESSION_ERROR, request(1, "/ok", indexed(0))));

  test("an indexed field beyond the static and dynamic tables (§2.3.3)", () =>
    t.goaway(E.COMPRESSION_ERROR, request(1, "/ok", indexed(70))));

  test("a literal whose name index is beyond the tables (§2.3.3)", () =>
    t.goaway(E.COMPRESSION_ERROR, request(1, "/ok", literalNameRef(15 + 62, str("v")))));

  test("a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE (§6.3)", () =>
    t.goaway(
      E.COMPRESSION_ERROR,
      headers(1, Buffer.concat([tableSizeUpdate(4097), hpack(requestFields("/ok"))]), { endStream: true }),
    ));

  test("a dynamic table size update after the first field of a block (§4.2)", () =>
    t.goaway(E.COMPRESSION_ERROR, request(1, "/ok", tableSizeUpdate(100))));

  test("a Huffman string that contains EOS (§5.2)", () =>
    // 32 bits of ones: the 30-bit EOS code, which a decoder must refuse inside a string.
    t.goaway(
      E.COMPRESSION_ERROR,
      request(1, "/ok", Buffer.from([0x00]), str("x-eos"), Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff])),
    ));

  test("Huffman padding longer than 7 bits (§5.2)", () =>
    // "a" is 00011 (5 bits); 0x1f then a whole byte of 1s is 11 bits of padding.
    t.goaway(
      E.COMPRESSION_ERROR,
      request(1, "/ok", Buffer.from([0x00]), str("x-pad"), Buffer.from([0x82, 0x1f, 0xff])),
    ));

  test("Huffman padding that is not all ones (§5.2)", () =>
    // "a" then 000: padding must be the most significant bits of EOS (all ones).
    t.goaway(E.COMPRESSION_ERROR, request(1, "/ok", Buffer.from([0x00]), str("x-pad"), Buffer.from([0x81, 0x18]))));

  test("an integer that overflows (§5.1)", () =>
    t.goaway(
      E.COMPRESSION_ERROR,
      request(1, "/ok", Buffer.from([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])),
    ));

  test("a string longer than the block (§5.2)", () =>
    t.goaway(E.COMPRESSION_ERROR, request(1, "/ok", Buffer.from([0x00]), str("x-cut"), Buffer.from([0x10, 0x61]))));
});

h2Conformance("RFC 7541 HPACK: what a proxy must decode right", (t) => {
  test("a Huffman-coded name and value reach the upstream decoded", async () => {
    const seen = t.sidecar.upstream.received.length;
    await t.answers(
      1,
      200,
      request(1, "/huff", Buffer.from([0x00]), str("x-huffman", true), str("Hello, HPACK!", true)),
    );
    assert.equal(t.sidecar.upstream.received[seen]!.headers["x-huffman"], "Hello, HPACK!");
  });

  test("a field added to the dynamic table is found by its index in the next request (§2.3.2)", async () => {
    const seen = t.sidecar.upstream.received.length;
    const c = await t.open(request(1, "/first", literalIndexed("x-remembered", "yes")));
    try {
      assert.equal((await c.stream(1)).status, 200);
      // Index 62 is the newest entry of the dynamic table.
      c.write(request(3, "/second", indexed(62)));
      assert.equal((await c.stream(3)).status, 200);
    } finally {
      c.close();
    }
    const got = t.sidecar.upstream.received.slice(seen);
    assert.deepEqual(
      got.map((r) => [r.url, r.headers["x-remembered"]]),
      [
        ["/first", "yes"],
        ["/second", "yes"],
      ],
    );
  });

  test("a table size update to 0 at the start of a block empties the table (§4.2, §6.3)", async () => {
    const c = await t.open(request(1, "/first", literalIndexed("x-gone", "soon")));
    try {
      assert.equal((await c.stream(1)).status, 200);
      // Size 0 evicts every entry; index 62 then points nowhere: COMPRESSION_ERROR.
      c.write(
        headers(3, Buffer.concat([tableSizeUpdate(0), hpack(requestFields("/second")), indexed(62)]), {
          endStream: true,
        }),
      );
      assert.equal((await c.goaway()).code, E.COMPRESSION_ERROR, c.describe());
    } finally {
      c.close();
    }
    await t.sidecar.stillServes();
  });

  test("static-table references for pseudo-headers (§2.3.1)", async () => {
    const seen = t.sidecar.upstream.received.length;
    // :method GET (2), :scheme http (6), :path / (4), :authority (1) with a literal value.
    const block = Buffer.concat([indexed(2), indexed(6), indexed(4), literalNameRef(1, str("example.test"))]);
    await t.answers(1, 200, headers(1, block, { endStream: true }));
    assert.equal(t.sidecar.upstream.received[seen]!.url, "/");
  });
});
