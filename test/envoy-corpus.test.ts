// Bootstraps written the way Envoy's examples and docs write them (test/corpus/envoy/), each loaded through the code
// `trellis proxy --bootstrap` uses (loadBootstrap) and held to its verdict: it starts, or it is refused with these
// field paths (substrings of the issues' paths), every problem once. Files with a `# run:` line are started for
// real on port 0 and answer one request.
//
// A YAML file states its verdict in its header comments:
//   # verdict: starts | refused
//   # refused: PATH-SUBSTRING        (one line per expected issue)
//   # run: METHOD PATH -> STATUS [BODY]
// A JSON file has no comments: its verdict is in JSON_VERDICTS below.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../src/api/errors.ts";
import { loadBootstrap } from "../src/proxy/config/load-bootstrap.ts";
import { Proxy } from "../src/proxy/server.ts";
import { request } from "./support/clients.ts";

const DIR = fileURLToPath(new URL("./corpus/envoy/", import.meta.url));

interface Verdict {
  verdict: "starts" | "refused";
  refused: string[];
  run?: { method: string; path: string; status: number; body?: string };
}

const JSON_VERDICTS: Record<string, Verdict> = {
  "bootstrap.json": { verdict: "starts", refused: [], run: { method: "GET", path: "/", status: 204 } },
};

function verdictOf(file: string, text: string): Verdict {
  if (file.endsWith(".json")) return JSON_VERDICTS[file] ?? assert.fail(`${file}: no verdict in JSON_VERDICTS`);
  const header = text.split("\n").filter((line) => line.startsWith("#"));
  const value = (key: string): string[] =>
    header.flatMap((line) => {
      const m = new RegExp(`^#\\s*${key}:\\s*(.*)$`).exec(line);
      return m ? [m[1]!.trim()] : [];
    });
  const [verdict] = value("verdict");
  assert.ok(verdict === "starts" || verdict === "refused", `${file}: "# verdict: starts|refused" is missing`);
  const out: Verdict = { verdict, refused: value("refused") };
  const [run] = value("run");
  if (run !== undefined) {
    const m = /^(\w+) (\S+) -> (\d{3})(?: (.*))?$/.exec(run);
    assert.ok(m, `${file}: bad run line ${run}`);
    out.run = { method: m[1]!, path: m[2]!, status: Number(m[3]), ...(m[4] === undefined ? {} : { body: m[4] }) };
  }
  return out;
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml") || f.endsWith(".json"))
  .sort();

describe("Envoy bootstrap corpus", () => {
  test("holds at least 30 bootstraps, both verdicts", () => {
    assert.ok(files.length >= 30, `${files.length} files`);
    const verdicts = files.map((f) => verdictOf(f, readFileSync(DIR + f, "utf8")).verdict);
    assert.ok(verdicts.filter((v) => v === "starts").length >= 20);
    assert.ok(verdicts.filter((v) => v === "refused").length >= 8);
  });

  for (const file of files) {
    test(file, async () => {
      const text = readFileSync(DIR + file, "utf8");
      const expected = verdictOf(file, text);
      if (expected.verdict === "refused") {
        let error: unknown;
        try {
          loadBootstrap(text, file);
        } catch (err) {
          error = err;
        }
        assert.ok(error instanceof ConfigError, `${file} should be refused`);
        assert.match(error.message, new RegExp(`^${file.replace(/\./g, "\\.")}: invalid configuration`));
        const paths = error.issues.map((i) => i.path);
        const shown = error.issues.map((i) => `${i.path}: ${i.message}`).join("\n");
        for (const want of expected.refused)
          assert.ok(
            paths.some((p) => p.includes(want)),
            `${file}: no issue at ${want}; got\n${shown}`,
          );
        assert.equal(
          error.issues.length,
          expected.refused.length,
          `${file}: exactly the expected issues; got\n${shown}`,
        );
        const keys = error.issues.map((i) => `${i.path} ${i.message}`);
        assert.equal(new Set(keys).size, keys.length, `${file}: an issue reported twice`);
        return;
      }
      const bootstrap = loadBootstrap(text, file);
      assert.ok(
        bootstrap.staticResources.listeners.every((l) => l.name !== ""),
        "every listener has a name",
      );
      if (expected.run === undefined) return;
      const proxy = new Proxy(bootstrap, { log: () => {} });
      await proxy.start();
      try {
        const port = Object.values(proxy.listenerAddresses())[0]!.port;
        const reply = await request(port, { method: expected.run.method, path: expected.run.path });
        assert.equal(reply.status, expected.run.status);
        if (expected.run.body !== undefined) assert.equal(reply.body, expected.run.body);
      } finally {
        await proxy.shutdown(0);
      }
    });
  }
});
