import { test } from "node:test";
import assert from "node:assert/strict";
import {
  FIELD_CONTENT_LENGTH,
  FIELD_HOST,
  FIELD_OTHER,
  FIELD_TRANSFER_ENCODING,
  KNOWN_ID,
  KNOWN_NAME,
  findKnownName,
  nameHashStep,
} from "./names.ts";
import { TOKEN_LOWER } from "./chars.ts";

function lookup(name: string): { name: string | undefined; id: number } | undefined {
  const b = Buffer.from(name, "latin1");
  let h = 0;
  for (const c of b) h = nameHashStep(h, TOKEN_LOWER[c]!);
  const slot = findKnownName(b, 0, b.length, h);
  return slot < 0 ? undefined : { name: KNOWN_NAME[slot], id: KNOWN_ID[slot]! };
}

test("known names are found in any case, interned lower-case, with their field id", () => {
  assert.deepEqual(lookup("Content-Length"), { name: "content-length", id: FIELD_CONTENT_LENGTH });
  assert.deepEqual(lookup("TRANSFER-ENCODING"), { name: "transfer-encoding", id: FIELD_TRANSFER_ENCODING });
  assert.deepEqual(lookup("host"), { name: "host", id: FIELD_HOST });
  assert.deepEqual(lookup("User-Agent"), { name: "user-agent", id: FIELD_OTHER });
  const interned = lookup("x-request-id")!.name;
  assert.equal(interned, "x-request-id");
});

test("near misses are not known names", () => {
  for (const n of ["hos", "hostx", "content-lengt", "transfer_encoding", "x-custom", "a"]) {
    assert.equal(lookup(n), undefined, n);
  }
});
