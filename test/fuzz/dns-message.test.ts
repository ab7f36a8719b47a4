// Fuzzing the DNS proxy's packet handling with a seeded PRNG: valid queries mutated (bytes flipped, cut short,
// counts inflated, compression pointers planted) and random bytes, through the codec and through DnsProxy.handle.
// Every input must end in a parsed message or DnsFormatError (nothing else thrown, nothing hanging), and handle()
// must answer or drop without rejecting. The seed is printed; FUZZ_SEED=<n> replays a run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mulberry32 } from "../../src/api/random.ts";
import { buildMessage, CLASS_IN, DnsFormatError, parseMessage, TYPE } from "../../src/proxy/dns/message.ts";
import { DnsProxy } from "../../src/proxy/dns/server.ts";
import { StatsStore } from "../../src/telemetry/stats.ts";
import { FUZZ_SCALE } from "./scale.ts";

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : 0xd15_5eed;

function seedQuery(random: () => number): Uint8Array {
  const names = ["meeting", "meeting.default.svc.cluster.local", "a.b.example.org", "www.outside.test", ""];
  const name = names[Math.floor(random() * names.length)]!;
  return buildMessage({
    header: { id: Math.floor(random() * 65536), recursionDesired: true },
    questions: [{ name, type: random() < 0.5 ? TYPE.A : TYPE.AAAA, class: CLASS_IN }],
    additionals: random() < 0.5 ? [{ name: "", type: TYPE.OPT, class: 1232, ttl: 0, data: new Uint8Array() }] : [],
  });
}

function mutate(input: Uint8Array, random: () => number): Uint8Array {
  const b = Uint8Array.from(input);
  const kind = Math.floor(random() * 5);
  if (kind === 0) {
    for (let i = 0; i < 1 + random() * 4; i++) b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
    return b;
  }
  if (kind === 1) return b.subarray(0, Math.floor(random() * b.length));
  if (kind === 2) {
    const at = 4 + 2 * Math.floor(random() * 4);
    b[at] = Math.floor(random() * 256);
    b[at + 1] = Math.floor(random() * 256);
    return b;
  }
  if (kind === 3 && b.length > 14) {
    // A compression pointer anywhere after the header, to anywhere.
    const at = 12 + Math.floor(random() * (b.length - 13));
    b[at] = 0xc0 | Math.floor(random() * 64);
    b[at + 1] = Math.floor(random() * 256);
    return b;
  }
  return Uint8Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256));
}

test("DNS packets: mutated and random inputs parse or throw DnsFormatError; the proxy answers or drops them", async (t) => {
  t.diagnostic(`seed ${SEED} (replay with FUZZ_SEED=${SEED}), scale ${FUZZ_SCALE}`);
  const random = mulberry32(SEED);
  // No upstream: what is not in the table answers SERVFAIL at once, so every input ends without the network.
  const dns = new DnsProxy({
    address: "127.0.0.1",
    port: 0,
    namespace: "default",
    upstreams: [],
    stats: new StatsStore(),
  });
  dns.applyNameTable([
    {
      table: {
        "meeting.default.svc.cluster.local": {
          ips: ["240.240.3.7"],
          registry: "Kubernetes",
          shortname: "meeting",
          namespace: "default",
        },
        "*.example.org": { ips: ["240.240.8.1", "fd00::1"] },
      },
    },
  ]);
  let parsed = 0;
  let refused = 0;
  let answered = 0;
  const total = 5_000 * FUZZ_SCALE;
  for (let i = 0; i < total; i++) {
    const input = mutate(seedQuery(random), random);
    try {
      parseMessage(input);
      parsed++;
    } catch (err) {
      assert.ok(err instanceof DnsFormatError, `input ${Buffer.from(input).toString("hex")}: ${String(err)}`);
      refused++;
    }
    const reply = await dns.handle(input, random() < 0.5);
    if (reply !== undefined) {
      answered++;
      parseMessage(reply); // our own answers always parse
    }
  }
  assert.equal(parsed + refused, total);
  assert.ok(parsed > total / 10 && refused > total / 10, `parsed ${parsed}, refused ${refused}`);
  assert.ok(answered > total / 2, `answered ${answered}`);
});
