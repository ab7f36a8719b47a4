// The embedded store under kill -9: a child process writes in a loop and is SIGKILLed mid-stream, several times
// on one data directory. Reopening must find every write the child saw acknowledged, whole, and nothing torn:
// at most the one write in flight when the kill came may also be there, complete.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { it } from "node:test";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";

const WRITER = path.resolve(import.meta.dirname, "fixtures/store-writer.ts");

/** Runs the writer from `first` until it has acknowledged `count` writes, SIGKILLs it, returns the acknowledged. */
async function writeAndKill(dataDir: string, first: number, count: number): Promise<number[]> {
  const child = spawn(process.execPath, ["--import", "tsx", WRITER, dataDir, String(first)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stdoutClosed = new Promise((resolve) => child.stdout.once("close", resolve));
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`writer made too little progress:\n${err}`)), 30_000);
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.split("\n").length > count) {
        clearTimeout(deadline);
        child.kill("SIGKILL");
        resolve();
      }
    });
    child.once("exit", () => {
      clearTimeout(deadline);
      resolve();
    });
  });
  await exited;
  assert.equal(child.signalCode, "SIGKILL", `the writer should have been killed, not exited:\n${err}`);
  // Read what reached the pipe before the kill (the stream may still deliver its last chunk).
  await stdoutClosed;
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map(Number);
}

it("kill -9 while writing: every acknowledged write survives, whole; no torn or half-applied one", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-crash-"));
  try {
    let next = 0;
    const acknowledged: number[] = [];
    // Writes in flight at an earlier kill that did land: allowed to be there, never required.
    const landedInFlight = new Set<string>();
    for (let round = 0; round < 4; round++) {
      const acked = await writeAndKill(dir, next, 150 + round * 40);
      acknowledged.push(...acked);
      const store = await EmbeddedStore.open({ dataDir: dir });
      const stored = new Map((await store.list()).map((r) => [r.metadata.name, r]));
      for (const n of acknowledged) {
        const names = n % 2 === 1 ? [`pair-a-${n}`, `pair-b-${n}`] : [`single-${n}`];
        for (const name of names) {
          const r = stored.get(name);
          assert.ok(r, `round ${round}: acknowledged write ${n} (${name}) is missing`);
          assert.deepEqual(r.spec, { n, padding: "x".repeat(n % 200) });
        }
      }
      // The only other write allowed is the one in flight at the kill, and it is whole (both halves of a pair).
      const lastAcked = acked.at(-1)!;
      const expectedNames = new Set(
        acknowledged.flatMap((n) => (n % 2 === 1 ? [`pair-a-${n}`, `pair-b-${n}`] : [`single-${n}`])),
      );
      const extra = [...stored.keys()].filter((name) => !expectedNames.has(name) && !landedInFlight.has(name));
      const inFlight = lastAcked + 1;
      const inFlightNames = inFlight % 2 === 1 ? [`pair-a-${inFlight}`, `pair-b-${inFlight}`] : [`single-${inFlight}`];
      assert.ok(
        extra.length === 0 || (extra.length === inFlightNames.length && extra.every((e) => inFlightNames.includes(e))),
        `round ${round}: unexpected resources ${extra.join(", ")}`,
      );
      for (const name of extra) landedInFlight.add(name);
      // Revisions are dense and ordered: the store's revision is the highest resourceVersion.
      const highest = Math.max(...[...stored.values()].map((r) => Number(r.metadata.resourceVersion)));
      assert.equal(await store.revision(), String(highest));
      await store.close();
      next = inFlight + 1;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
