// Every corpus case through the codec: rejects must fail with the expected status, accepts must be exactly the
// expected number of complete requests with no byte left over, whether the bytes come whole or one at a time.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { smugglingCases } from "./corpus.ts";
import { drive, splitAt, summarize } from "./drive.ts";

describe("request-smuggling corpus", () => {
  test("has at least 60 cases with unique names, each well-formed", () => {
    assert.ok(smugglingCases.length >= 60, `only ${smugglingCases.length} cases`);
    const names = new Set(smugglingCases.map((c) => c.name));
    assert.equal(names.size, smugglingCases.length, "case names must be unique");
    for (const c of smugglingCases) {
      if (c.expect === "accept") assert.ok((c.requests ?? 0) >= 1, `${c.name}: accept needs requests ≥ 1`);
      else assert.ok(c.status !== undefined, `${c.name}: reject needs a status`);
    }
    assert.ok(smugglingCases.filter((c) => c.expect === "accept").length >= 20);
  });

  for (const c of smugglingCases) {
    test(`${c.expect}: ${c.name}`, () => {
      const bytes = Buffer.from(c.raw, "latin1");
      const whole = drive([bytes]);
      if (c.expect === "reject") {
        assert.ok(whole.error, `expected a rejection, parsed ${whole.requests.length} request(s)`);
        assert.equal(whole.error.status, c.status, `${whole.error.code}: ${whole.error.message}`);
      } else {
        assert.equal(whole.error, undefined, whole.error && `${whole.error.code}: ${whole.error.message}`);
        assert.equal(whole.pending, 0, "bytes left over as a partial message");
        assert.equal(whole.requests.length, c.requests);
        assert.equal(whole.tunnel, 0);
      }
      // The same verdict, to the byte, when the bytes trickle in one at a time.
      const offsets = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
      const trickled = drive(splitAt(bytes, offsets));
      assert.deepEqual(summarize(trickled), summarize(whole));
    });
  }
});
