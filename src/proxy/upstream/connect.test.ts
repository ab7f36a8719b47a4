// The connect options every upstream connection is opened with: keepalive only for a cluster that has
// tcp_keepalive, with keepalive_time as the delay (0 = the system's). That the kernel really runs the timer on each
// kind of upstream connection is checked end to end in test/connection-pool-options.test.ts.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { keepAliveDelayMs, upstreamConnectOptions } from "./connect.ts";

describe("upstream connect options", () => {
  test("the keepalive delay of a cluster's tcp_keepalive", () => {
    assert.equal(keepAliveDelayMs(undefined), undefined);
    assert.equal(keepAliveDelayMs({}), 0, "no keepalive_time: the system's idle time");
    assert.equal(keepAliveDelayMs({ timeS: 7, probes: 3, intervalS: 2 }), 7000);
  });

  test("net.connect options: Nagle off; keepalive only when configured", () => {
    assert.deepEqual(upstreamConnectOptions("10.0.0.1", 80, undefined), {
      host: "10.0.0.1",
      port: 80,
      noDelay: true,
      allowHalfOpen: false,
    });
    assert.deepEqual(upstreamConnectOptions("10.0.0.1", 80, 7000, true), {
      host: "10.0.0.1",
      port: 80,
      noDelay: true,
      allowHalfOpen: true,
      keepAlive: true,
      keepAliveInitialDelay: 7000,
    });
  });
});
