// docs/run.md's worked example stays true: its `sh` block runs as written (bash, `set -euo pipefail`, `trellis` on
// PATH) against a control plane started first ("With a control plane running (`trellis up`)", on free ports given
// to the page's commands through $TRELLIS_CONTROL and $TRELLIS_XDS), and prints what the page says it prints.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Netns, netnsSkipReason } from "./support/netns.ts";
import { blocks, runPageScript, section } from "./support/doc-page.ts";
import { freePorts } from "./support/etcd.ts";

const PAGE = readFileSync(fileURLToPath(new URL("../docs/run.md", import.meta.url)), "utf8");

test(
  "docs/run.md, A worked example: the caller's curl reaches meeting by name and prints agenda; ps lists meeting",
  {
    timeout: 180_000,
  },
  async () => {
    const example = blocks(section(PAGE, "## A worked example"), "sh");
    assert.equal(example.length, 1, "one sh block");
    const [xds, api] = await freePorts(2);
    const script = [
      `trellis up --data-dir "$(mktemp -d)" --xds-port ${xds} --api-port ${api} &`,
      `until curl -sf http://127.0.0.1:${api}/ready >/dev/null; do sleep 0.2; done`,
      example[0]!,
    ].join("\n");
    const r = await runPageScript(script, {
      env: { TRELLIS_CONTROL: `http://127.0.0.1:${api}`, TRELLIS_XDS: `127.0.0.1:${xds}` },
    });
    assert.equal(r.code, 0, r.context);
    // The page's output: the caller's curl prints meeting's reply.
    assert.match(r.stdout, /^agenda$/m, r.context);
    // `trellis ps`: meeting, while it runs, healthy and in sync; the caller, which has exited, is gone.
    assert.match(
      r.stdout,
      /^meeting\s+v1\s+default\s+127\.0\.0\.1\s+8080\/HTTP\s+healthy\s+SYNCED\s+\d+s$/m,
      r.context,
    );
    assert.doesNotMatch(r.stdout, /^caller/m, r.context);
  },
);

// Transparent mode (root, Linux): a network namespace the test creates plays the host (its bridge, forwarding and
// NAT never touch the real host), as in test/run-transparent.test.ts; the page's block runs in it (nsenter: its
// network only), after the control plane is started there with its defaults. Substitutions: `sudo ` dropped (the
// test runs as root; sudo would reset PATH), $TRELLIS_RUN_DIR a directory of the test's.
describe("docs/run.md, Transparent mode", { skip: netnsSkipReason }, () => {
  let host: Netns | undefined;
  let dir = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-docs-run-"));
    const octet = process.pid % 250;
    host = await Netns.create({ host: `10.219.${octet}.1/30`, inside: `10.219.${octet}.2/30` });
  });
  after(async () => {
    await host?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    "the block as written: Node's fetch reaches meeting by name without a proxy and prints agenda; meeting's run ends with 143 and leaves nothing",
    {
      timeout: 240_000,
    },
    async () => {
      const example = blocks(section(PAGE, "## Transparent mode (`--transparent`)"), "sh");
      assert.ok(example.length >= 1);
      const block = example[0]!;
      assert.match(block, /sudo trellis run --transparent/);
      const runDir = join(dir, "run");
      const script = [
        // Not a job of the script's shell: the page's `wait` is for meeting only.
        `(trellis up --data-dir ${join(dir, "data")} &)`,
        `until curl -sf http://127.0.0.1:15014/ready >/dev/null; do sleep 0.2; done`,
        block.replaceAll("sudo trellis", "trellis"),
      ].join("\n");
      const r = await runPageScript(script, {
        prefix: ["nsenter", `--net=/run/netns/${host!.name}`, "--"],
        env: { TRELLIS_RUN_DIR: runDir },
        timeoutMs: 200_000,
      });
      // The script's last command is `wait $meeting`: meeting's status, node ended by SIGTERM.
      assert.equal(r.code, 143, r.context);
      assert.match(r.stdout, /^agenda$/m, r.context);
      assert.match(r.stderr, /trellis run: node exited with status 143/, r.context);
      // Nothing of meeting's or the caller's left: no state file (removed last, after the namespace and the rest).
      let states: string[] = [];
      try {
        states = readdirSync(join(runDir, "netns"));
      } catch {
        // the directory itself is gone
      }
      assert.deepEqual(states, [], r.context);
    },
  );
});
