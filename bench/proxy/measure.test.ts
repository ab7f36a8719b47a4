import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { cpuMicrosPerRequest, parseStatCpuTicks, parseStatusPeakRss, vcpuPer1000Rps } from "./measure.ts";

describe("parseStatCpuTicks", () => {
  test("adds utime (field 14) and stime (field 15)", () => {
    const stat =
      "7636 (nginx) S 7630 7630 2701 0 -1 4194304 102 0 0 0 1234 567 0 0 20 0 1 0 106363 3133440 362 18446744073709551615";
    assert.equal(parseStatCpuTicks(stat), 1234 + 567);
  });

  test("is not fooled by spaces and parentheses in the command name", () => {
    const stat = "42 (node (a) b) R 1 42 42 0 -1 4194304 10 0 0 0 70 30 0 0 20 0 1 0 100 1000 50";
    assert.equal(parseStatCpuTicks(stat), 100);
  });

  test("refuses text that is not a stat line", () => {
    assert.throws(() => parseStatCpuTicks("no parentheses here"), /not a \/proc\/PID\/stat line/);
  });
});

describe("parseStatusPeakRss", () => {
  test("reads VmHWM in kB as bytes", () => {
    const status = "Name:\tnginx\nVmPeak:\t   20000 kB\nVmHWM:\t    8192 kB\nVmRSS:\t    8000 kB\n";
    assert.equal(parseStatusPeakRss(status), 8192 * 1024);
  });

  test("refuses a status without VmHWM (a kernel thread or a zombie)", () => {
    assert.throws(() => parseStatusPeakRss("Name:\tkthreadd\nState:\tS\n"), /no VmHWM/);
  });
});

describe("per-request and per-rate CPU", () => {
  test("CPU µs per request", () => {
    assert.equal(cpuMicrosPerRequest(0.6, 36_000), 16.666666666666668);
    assert.ok(Number.isNaN(cpuMicrosPerRequest(1, 0)));
  });

  test("vCPU per 1000 req/s scales the CPU share to exactly 1000 req/s", () => {
    // 0.5 s of CPU over 10 s at 1000 req/s is 0.05 vCPU; at 500 req/s the same share scales to 0.1.
    assert.equal(vcpuPer1000Rps(0.5, 10, 1000), 0.05);
    assert.equal(vcpuPer1000Rps(0.5, 10, 500), 0.1);
    assert.ok(Number.isNaN(vcpuPer1000Rps(0.5, 0, 1000)));
  });
});
