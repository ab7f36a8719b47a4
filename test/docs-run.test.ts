// docs/run.md's worked example stays true: its `sh` block runs as written (bash, `set -euo pipefail`, `trellis` on
// PATH) against a control plane started first ("With a control plane running (`trellis up`)", on free ports given
// to the page's commands through $TRELLIS_CONTROL and $TRELLIS_XDS), and prints what the page says it prints.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
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
