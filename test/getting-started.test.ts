// docs/getting-started.md stays true: its `sh` blocks, in order, run as one bash script (`console` blocks — the
// clone and install — are shown, not run), with the page's fixed ports swapped for free ones and `node
// bin/trellis.js` pointing at this checkout. The script must end well, with the 90/10 split measured at the end
// within binomial bounds. Every `trellis` verb the page names must be one the CLI knows.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "./support/cli.ts";
import { freePorts } from "./support/etcd.ts";

const PAGE = fileURLToPath(new URL("../docs/getting-started.md", import.meta.url));
const TRELLIS = fileURLToPath(new URL("../bin/trellis.js", import.meta.url));
/** Every port the page uses; each is replaced by a free one. */
const PAGE_PORTS = [15010, 15014, 9081, 9082, 15106, 15206, 15100, 15101, 15200, 15201, 15300, 15301];

function blocks(markdown: string, info: string): string[] {
  const out: string[] = [];
  const fence = /^```(\S*)[^\n]*\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(markdown); m !== null; m = fence.exec(markdown)) if (m[1] === info) out.push(m[2]!);
  return out;
}

test("every trellis verb the page names exists and explains itself", async () => {
  const page = readFileSync(PAGE, "utf8");
  const verbs = new Set([...page.matchAll(/(?:bin\/trellis\.js|npx trellis) ([a-z][a-z-]*)/g)].map((m) => m[1]!));
  assert.ok(verbs.size >= 6, [...verbs].join(" "));
  for (const verb of verbs) {
    const r = await runCli([verb, "--help"]);
    assert.equal(r.code, 0, `trellis ${verb}: ${r.stderr}`);
  }
});

test(
  "the page's commands, run in order, give two meshed services and a 90/10 split",
  { timeout: 180_000 },
  async () => {
    const page = readFileSync(PAGE, "utf8");
    const ports = await freePorts(PAGE_PORTS.length);
    const map = new Map(PAGE_PORTS.map((p, i) => [String(p), String(ports[i])]));
    const script = blocks(page, "sh")
      .join("\n")
      .replaceAll("node bin/trellis.js", `node ${JSON.stringify(TRELLIS)}`)
      // The control plane's ports are its defaults on the page: given explicitly here, to be swapped below.
      .replace(/(trellis\.js" up )/, "$1--xds-port 15010 --api-port 15014 ")
      .replace(new RegExp(`\\b(${PAGE_PORTS.join("|")})\\b`, "g"), (p) => map.get(p)!);
    assert.match(script, /apply -f reviews\.yaml/);
    assert.match(script, new RegExp(`up --xds-port ${map.get("15010")} --api-port ${map.get("15014")} `));
    const dir = mkdtempSync(join(tmpdir(), "trellis-getting-started-"));
    // Whatever happens, the script's background jobs are stopped when it ends.
    const full = `set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${script}`;
    const child = spawn("bash", ["-c", full], {
      cwd: dir,
      env: { ...process.env, TRELLIS_CONTROL: `http://127.0.0.1:${map.get("15014")}` },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 150_000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
    const context = `exit ${code}\n--- stdout\n${stdout}\n--- stderr (last 3000)\n${stderr.slice(-3000)}`;
    assert.equal(code, 0, context);
    assert.match(stdout, /virtualservice\/reviews \(default\) \w+ \(dry run\)/, context);
    assert.match(stdout, /"lease": \{\n\s+"ttlSeconds": 3600,/, context);
    assert.match(
      stdout,
      /\nreviews\s+default\s+127\.0\.0\.1\s+http:\d+→sidecar:\d+\/HTTP\s+app=reviews,version=v1\s+healthy/,
    );
    assert.match(stdout, /\nproductpage-1\s+SYNCED/, context);
    const counts = Object.fromEntries(
      [...stdout.matchAll(/^\s*(\d+) reviews (v\d)$/gm)].map((m) => [m[2]!, Number(m[1])]),
    );
    assert.equal((counts.v1 ?? 0) + (counts.v2 ?? 0), 100, context);
    // 100 independent draws at 10 %: outside 1..25 has a probability below 1e-4.
    assert.ok(counts.v2! >= 1 && counts.v2! <= 25, JSON.stringify(counts));
  },
);
