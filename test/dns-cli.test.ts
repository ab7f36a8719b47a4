// `trellis proxy --xds … --dns IP:PORT` as trellis run starts it: a separate process (the bundle, whose NDS proto
// must be found from .build/), fed by the test's ADS server, forwarding to the test's resolver. Its DNS proxy
// answers mesh names from the NameTable, forwards the rest, and its dns_* stats are on the admin /stats.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { Resolver } from "node:dns/promises";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NAME_TABLE_TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { FakeAds } from "./support/fake-ads.ts";
import { bootstrap } from "./support/envoy-config.ts";
import { FakeResolver } from "./support/fake-dns.ts";

const TRELLIS = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));

function run(args: string[]): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [TRELLIS, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (c) => (err += c));
  child.stdout!.resume();
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => err, exit };
}

async function liveLine(p: ReturnType<typeof run>): Promise<string> {
  for (;;) {
    const line = /trellis proxy: live \(([^)]*)\)/.exec(p.stderr());
    if (line) return line[1]!;
    const ended = await Promise.race([
      p.exit,
      new Promise<"more">((r) => p.child.stderr!.once("data", () => r("more"))),
    ]);
    if (ended !== "more") throw new Error(`trellis proxy exited ${ended}: ${p.stderr()}`);
  }
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
}

test("trellis proxy --dns: NDS subscribed (DNS_CAPTURE), mesh names answered, others forwarded, dns_* on /stats", async () => {
  const ads = await new FakeAds().start();
  const upstream = await new FakeResolver().start();
  ads.set(NAME_TABLE_TYPE_URL, "1", [
    {
      table: {
        "meeting.default.svc.cluster.local": {
          ips: ["240.240.3.7"],
          registry: "Kubernetes",
          shortname: "meeting",
          namespace: "default",
        },
      },
    },
  ]);
  const p = run([
    "proxy",
    "--xds",
    ads.address,
    "--xds-protocol",
    "sotw",
    "--node-id",
    "dns-cli",
    "--namespace",
    "default",
    "--admin-port",
    "0",
    "--dns",
    "127.0.0.1:0",
    "--dns-upstream",
    upstream.address,
  ]);
  try {
    const live = await liveLine(p);
    const dnsPort = Number(/dns=127\.0\.0\.1:(\d+)/.exec(live)![1]);
    const adminPort = Number(/admin=(\d+)/.exec(live)![1]);
    const first = await ads.nextRequest((r) => r.node != null, 0);
    const metadata = first.node!.metadata as { fields: Record<string, { stringValue?: string }> };
    assert.equal(metadata.fields.DNS_CAPTURE?.stringValue, "true");
    await ads.reply(NAME_TABLE_TYPE_URL, "1");
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${dnsPort}`]);
    assert.deepEqual(await r.resolve4("meeting"), ["240.240.3.7"]);
    assert.deepEqual(await r.resolve4("meeting.default.default.svc.cluster.local"), ["240.240.3.7"]);
    assert.deepEqual(await r.resolve4("www.outside.test"), ["192.0.2.1"]);
    const stats = await get(adminPort, "/stats?filter=^dns_");
    assert.match(stats, /^dns_requests: 3$/m);
    assert.match(stats, /^dns_upstream_requests: 1$/m);
    assert.match(stats, /^dns_upstream_failures: 0$/m);
    p.child.kill("SIGTERM");
    assert.equal(await p.exit, 0);
  } finally {
    p.child.kill("SIGKILL");
    ads.stop();
    await upstream.stop();
  }
});

test("trellis proxy --bootstrap --dns (no control plane, no table): every name is forwarded, none SERVFAIL", async () => {
  const upstream = await new FakeResolver().start();
  const dir = mkdtempSync(join(tmpdir(), "trellis-dns-"));
  const file = join(dir, "bootstrap.json");
  writeFileSync(file, JSON.stringify(bootstrap([], [])));
  const p = run(["proxy", "--bootstrap", file, "--dns", "127.0.0.1:0", "--dns-upstream", upstream.address]);
  try {
    const dnsPort = Number(/dns=127\.0\.0\.1:(\d+)/.exec(await liveLine(p))![1]);
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${dnsPort}`]);
    assert.deepEqual(await r.resolve4("meeting"), ["192.0.2.1"]);
    assert.deepEqual(
      upstream.seen.map((q) => q.name),
      ["meeting"],
    );
    p.child.kill("SIGTERM");
    assert.equal(await p.exit, 0);
  } finally {
    p.child.kill("SIGKILL");
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("trellis proxy: a bad --dns, --dns-upstream or --dns-timeout is a usage error (exit 2) naming the flag", async () => {
  for (const [args, message] of [
    [["--dns", "localhost:53"], /--dns expects IP:PORT/],
    [["--dns", "127.0.0.1:53", "--dns-upstream", "dns.google"], /--dns-upstream expected IP\[:PORT\]/],
    [["--dns", "127.0.0.1:53", "--dns-timeout", "-1"], /--dns-timeout expects milliseconds > 0/],
    [["--dns-upstream", "10.0.0.1"], /--dns-upstream and --dns-timeout need --dns/],
  ] as const) {
    const p = run(["proxy", "--xds", "127.0.0.1:1", "--node-id", "bad", ...args]);
    assert.equal(await p.exit, 2, p.stderr());
    assert.match(p.stderr(), message);
  }
});
