// `trellis demo` (what `npm run demo` runs): it starts an upstream and two sidecars and prints a curl; the curl it
// prints must work, and the sidecar must answer an unknown host itself, saying why.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { request } from "./support/clients.ts";

const TRELLIS = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));

test("the demo's printed curl goes through both sidecars", { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [TRELLIS, "demo"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.resume();
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", () => {
        const m = /curl -s (http:\/\/127\.0\.0\.1:\d+\/hello)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on("exit", () => reject(new Error(`demo exited early:\n${out}`)));
    });
    const res = await fetch(url);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { service: string; path: string; headers: Record<string, string> };
    assert.equal(body.service, "hello");
    assert.equal(body.path, "/hello");
    // The demo's sidecars do not use_remote_address: as in Envoy, nothing is appended to x-forwarded-for.
    assert.equal(body.headers["x-forwarded-for"], undefined);
    const miss = await request(Number(new URL(url).port), { path: "/nowhere", headers: { host: "unknown.example" } });
    assert.equal(miss.status, 404);
    assert.equal(miss.headers["x-trellis-response-flags"], "NR");
  } finally {
    child.kill("SIGINT");
    assert.equal(await exited, 0);
  }
});
