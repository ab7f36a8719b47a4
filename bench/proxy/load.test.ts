import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseH2load, parseH2loadLog, parseWrk } from "./load.ts";

// Captured from wrk 4.1.0 and h2load (nghttp2 1.52) on this machine, against the upstream nginx of the harness.
const WRK_CLEAN = `Running 1s test @ http://127.0.0.1:18081/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    66.33us  234.67us   4.16ms   97.75%
    Req/Sec    91.77k    13.67k  112.42k    72.73%
  100096 requests in 1.10s, 112.07MB read
Requests/sec:  91028.31
Transfer/sec:    101.92MB
`;

const WRK_ERRORS = `Running 10s test @ http://127.0.0.1:8080/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   861.02us  120.40us   5.01ms   91.12%
    Req/Sec    37.10k     1.20k   39.00k    70.00%
  369120 requests in 10.10s, 411.50MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 17
Requests/sec:  36546.53
Transfer/sec:     40.74MB
`;

const H2LOAD_H2C = `starting benchmark...
spawning thread #0: 2 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
Application protocol: h2c
Stopped all clients for thread #0

finished in 1.00s, 57879.00 req/s, 60.33MB/s
requests: 57879 total, 57883 started, 57879 done, 57879 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 57879 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 60.33MB (63261845) total, 2.82MB (2951829) headers (space savings 49.50%), 56.52MB (59268096) data
                     min         max         mean         sd        +/- sd
time for request:       15us      2.54ms        61us        36us    89.96%
req/s           :   28930.57    28942.87    28936.72        8.70   100.00%
`;

const H2LOAD_RATE_FAILURES = `starting benchmark...
spawning thread #0: 4 total client(s). Up to 1 client(s) will be created every 1ms 400 total requests
Application protocol: http/1.1

finished in 1.59s, 251.68 req/s, 288.55KB/s
requests: 400 total, 400 started, 400 done, 390 succeeded, 4 failed, 2 errored, 1 timeout
status codes: 390 2xx, 0 3xx, 3 4xx, 5 5xx
traffic: 458.59KB (469600) total, 43.36KB (44400) headers (space savings 0.00%), 400.00KB (409600) data
`;

describe("parseWrk", () => {
  test("reads requests, duration and rate of a clean run", () => {
    assert.deepEqual(parseWrk(WRK_CLEAN), {
      requests: 100096,
      seconds: 1.1,
      requestsPerSecond: 91028.31,
      errors: 0,
    });
  });

  test("counts socket errors and non-2xx responses as errors", () => {
    const r = parseWrk(WRK_ERRORS);
    assert.equal(r.requests, 369120);
    assert.equal(r.requestsPerSecond, 36546.53);
    assert.equal(r.errors, 3 + 1 + 2 + 17);
  });

  test("refuses text that is not wrk's summary", () => {
    assert.throws(() => parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"), /not wrk output/);
  });
});

describe("parseH2load", () => {
  test("reads rate, duration and successes of an h2c run", () => {
    assert.deepEqual(parseH2load(H2LOAD_H2C), {
      seconds: 1,
      requestsPerSecond: 57879,
      succeeded: 57879,
      errors: 0,
    });
  });

  test("adds failed, errored, timeouts, 4xx and 5xx into errors", () => {
    const r = parseH2load(H2LOAD_RATE_FAILURES);
    assert.equal(r.seconds, 1.59);
    assert.equal(r.requestsPerSecond, 251.68);
    assert.equal(r.succeeded, 390);
    assert.equal(r.errors, 4 + 2 + 1 + 3 + 5);
  });

  test("refuses output without the summary lines", () => {
    assert.throws(() => parseH2load("starting benchmark...\nNo protocol negotiated. Aborted\n"), /not h2load output/);
  });
});

describe("parseH2loadLog", () => {
  test("reads start, status and duration columns, ignoring blank lines and extra columns", () => {
    const text = "1795645977438981\t200\t142\n1795645977440303\t503\t92\textra\n\n";
    assert.deepEqual(parseH2loadLog(text), [
      { startMicros: 1795645977438981, status: 200, durationMicros: 142 },
      { startMicros: 1795645977440303, status: 503, durationMicros: 92 },
    ]);
  });

  test("refuses a malformed line", () => {
    assert.throws(() => parseH2loadLog("garbage\n"), /not an h2load log line/);
  });
});
