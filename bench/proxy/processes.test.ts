import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { firstErrorLine, pinned } from "./processes.ts";

describe("firstErrorLine", () => {
  test("finds the head of a Node stack trace", () => {
    const log = [
      "node:internal/modules/run_main:123",
      "    triggerUncaughtException(",
      "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/x/admin/server.ts' imported from /x/server.ts",
      "    at finalizeResolution (node:internal/modules/esm/resolve:283:11)",
    ].join("\n");
    assert.equal(
      firstErrorLine(log),
      "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/x/admin/server.ts' imported from /x/server.ts",
    );
  });

  test("finds nginx's [emerg] line, else falls back to the last non-empty line", () => {
    assert.equal(
      firstErrorLine("nginx: [emerg] bind() to 127.0.0.1:80 failed (98: Address in use)\n"),
      "nginx: [emerg] bind() to 127.0.0.1:80 failed (98: Address in use)",
    );
    assert.equal(firstErrorLine("starting\nlistening on 1234\n\n"), "listening on 1234");
  });
});

describe("pinned", () => {
  test("wraps a command in taskset only when a CPU is given", () => {
    assert.deepEqual(pinned(1, "nginx", ["-p", "/tmp/x"]), ["taskset", ["-c", "1", "nginx", "-p", "/tmp/x"]]);
    assert.deepEqual(pinned(undefined, "wrk", ["-t1"]), ["wrk", ["-t1"]]);
  });
});
