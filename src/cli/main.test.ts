// The CLI's surface, through main(): every verb explains itself (usage, options, an example) and starts nothing
// when asked for help; usage errors are one line and exit 2; `version` and `--version` say which trellis and node.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runCli } from "../../test/support/cli.ts";

const VERBS = ["proxy", "up", "apply", "analyze", "get", "delete", "proxy-status", "proxy-config", "demo", "version"];

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

/** Listening sockets, connections and child processes: what a verb that started running would have opened. */
function started(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => /TCPServerWrap|TCPSocketWrap|ProcessWrap|UDPWrap|Pipe/.test(r))
    .sort();
}

describe("every verb answers --help and -h", () => {
  for (const verb of VERBS)
    for (const flag of ["--help", "-h"])
      test(`trellis ${verb} ${flag}: usage, options and an example; exit 0; nothing started`, async () => {
        const before = started();
        const r = await runCli([verb, flag]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^Usage: trellis ${verb}\\b`));
        assert.match(r.stdout, /Options:/);
        assert.match(r.stdout, /\nExamples?:\n {2}(trellis|npm) /);
        assert.equal(r.stderr, "");
        assert.deepEqual(started(), before);
      });

  test("trellis help VERB is the same help", async () => {
    const viaHelp = await runCli(["help", "apply"]);
    const viaFlag = await runCli(["apply", "--help"]);
    assert.equal(viaHelp.code, 0);
    assert.equal(viaHelp.stdout, viaFlag.stdout);
  });

  test("trellis --help lists every verb; trellis alone prints the same to stderr and exits 2", async () => {
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0);
    for (const verb of VERBS) assert.match(help.stdout, new RegExp(`\\n {2}${verb}\\b`));
    const bare = await runCli([]);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, "");
    assert.equal(bare.stderr, help.stdout);
  });
});

describe("usage errors: one line, exit 2", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown verb", ["frobnicate"], /^trellis: unknown command 'frobnicate'/],
    ["a misspelt verb, with a suggestion", ["aply", "-f", "x.yaml"], /Did you mean apply\?/],
    ["an unknown option", ["get", "vs", "--bogus"], /^trellis get: unknown option '--bogus'/],
    ["an unknown option of demo (it used to start the demo)", ["demo", "--fast"], /^trellis demo: unknown option/],
    ["a missing argument", ["get"], /^trellis get: missing required argument 'kind'/],
    ["too many arguments", ["proxy-status", "p1", "extra"], /^trellis proxy-status: too many arguments/],
    ["a value not among the choices", ["get", "vs", "-o", "xml"], /^trellis get: .*Allowed choices are yaml, json/],
    ["a config type not among the choices", ["proxy-config", "secretz", "p1"], /^trellis proxy-config: .*listeners/],
    [
      "an option without its value",
      ["apply", "-f"],
      /^trellis apply: option '-f, --filename <file\|dir\|->' argument missing/,
    ],
  ];
  for (const [what, args, message] of cases)
    test(what, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /\(see `trellis( [a-z-]+)? --help`\)\n$/);
    });
});

describe("version", () => {
  for (const args of [["version"], ["--version"], ["-V"]])
    test(`trellis ${args.join(" ")} prints package.json's version and node's`, async () => {
      const r = await runCli(args);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `trellis ${pkg.version} (node ${process.version})\n`);
    });
});
