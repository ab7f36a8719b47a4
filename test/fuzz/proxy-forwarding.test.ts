// Fuzzing end to end: mutated smuggling-corpus requests go through a real sidecar. Whatever the bytes, the proxy
// must not crash or hang, and the upstream must receive exactly the requests the strict codec accepts before its
// first refusal, with the same bodies: nothing the codec refuses is ever forwarded. Seeded; FUZZ_SEED replays.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startProxy, type RunningProxy } from "../support/proxies.ts";
import { startCodecUpstream } from "../support/upstreams.ts";
import { rawExchange } from "../support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "../support/envoy-config.ts";
import { smugglingCases } from "../smuggling/corpus.ts";
import { drive } from "../smuggling/drive.ts";
import { mulberry32 } from "../../src/api/random.ts";
import { FUZZ_SCALE } from "./scale.ts";

// A fixed seed keeps the suite deterministic; FUZZ_SEED=<n> explores (and replays) others.
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2026);
const CASES = 300 * FUZZ_SCALE;

const INTERESTING = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x2c, 0x3b, 0x30, 0x7f, 0x80, 0x0b];

function mutate(input: Buffer, rnd: () => number): Buffer {
  const bytes = [...input];
  const edits = 1 + Math.floor(rnd() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (bytes.length + 1));
    const b = INTERESTING[Math.floor(rnd() * INTERESTING.length)]!;
    const op = rnd();
    if (op < 0.35 && at < bytes.length) bytes[at] = b;
    else if (op < 0.7) bytes.splice(at, 0, b);
    else if (op < 0.85 && at < bytes.length) bytes.splice(at, 1);
    else {
      // Duplicate a line: repeated fields are a classic source of ambiguity.
      const text = Buffer.from(bytes).toString("latin1");
      const lines = text.split("\r\n");
      const i = Math.floor(rnd() * lines.length);
      lines.splice(i, 0, lines[i]!);
      return Buffer.from(lines.join("\r\n"), "latin1");
    }
  }
  return Buffer.from(bytes);
}

let upstream: Awaited<ReturnType<typeof startCodecUpstream>>;
let proxy: RunningProxy;
before(async () => {
  upstream = await startCodecUpstream(drive);
  proxy = await startProxy(
    bootstrap(
      [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
      [staticCluster("app", [upstream.port])],
    ),
  );
});
after(async () => {
  await proxy.close();
  await upstream.close();
});

test(`${CASES} mutated requests through a sidecar forward exactly what the codec accepts (seed ${SEED})`, async () => {
  const rnd = mulberry32(SEED);
  const pool = smugglingCases.map((c) => Buffer.from(c.raw, "latin1"));
  let checked = 0;
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    const input = mutate(pool[Math.floor(rnd() * pool.length)]!, rnd);
    const verdict = drive([input]);
    if (
      verdict.tunnel > 0 ||
      verdict.requests.some((r) => r.head.method === "CONNECT" || r.head.upgrade !== undefined || r.head.path === "*")
    )
      continue;
    const before = upstream.received.length;
    await rawExchange(proxy.port(), input);
    const forwarded = upstream.received.slice(before);
    const context = `case ${i} (seed ${SEED}): ${JSON.stringify(input.toString("latin1"))}`;
    // A request that does not keep the connection alive (HTTP/1.0 without keep-alive, Connection: close) is the
    // last one the proxy reads on that connection.
    const lastKept = verdict.requests.findIndex((r) => !r.head.keepAlive);
    const expected = lastKept < 0 ? verdict.requests.length : lastKept + 1;
    assert.equal(forwarded.length, expected, `forwarded count, ${context}`);
    forwarded.forEach((f, k) =>
      assert.equal(f.body, verdict.requests[k]!.body.toString("utf8"), `body ${k}, ${context}`),
    );
    checked++;
    if (verdict.error && expected === verdict.requests.length) refused++;
  }
  // The mutations must exercise both outcomes for the run to mean something.
  assert.ok(checked > CASES / 2, `only ${checked} cases checked`);
  assert.ok(refused > 10 && refused < checked, `${refused} refused of ${checked}`);
  // And the proxy is still healthy afterwards.
  const ok = await rawExchange(proxy.port(), "GET /still-alive HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  assert.match(ok, /^HTTP\/1\.1 200 /);
});
