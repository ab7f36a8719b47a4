import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseCluster } from "./cluster.ts";
import { parseHealthCheck } from "./health-check.ts";
import { assertIssues } from "./testing.ts";

const BASE = { timeout: "1s", interval: "5s", unhealthy_threshold: 3, healthy_threshold: 2 };

function hc(extra: Record<string, unknown>): ReturnType<typeof parseHealthCheck> {
  return parseHealthCheck({ ...BASE, ...extra });
}

describe("health check", () => {
  test("an HTTP check with Envoy's defaults", () => {
    assert.deepEqual(hc({ http_health_check: { path: "/healthz" } }), {
      timeoutMs: 1000,
      intervalMs: 5000,
      initialJitterMs: 0,
      intervalJitterMs: 0,
      intervalJitterPercent: 0,
      unhealthyThreshold: 3,
      healthyThreshold: 2,
      noTrafficIntervalMs: 60_000,
      noTrafficHealthyIntervalMs: 60_000,
      unhealthyIntervalMs: 5000,
      unhealthyEdgeIntervalMs: 5000,
      healthyEdgeIntervalMs: 5000,
      reuseConnection: true,
      alwaysLogHealthCheckFailures: false,
      alwaysLogHealthCheckSuccess: false,
      check: {
        kind: "http",
        host: undefined,
        path: "/healthz",
        method: "GET",
        requestHeadersToAdd: [],
        requestHeadersToRemove: [],
        expectedStatuses: [{ start: 200, end: 201 }],
        retriableStatuses: [],
        codecClientType: undefined,
      },
    });
  });

  test("every field, snake_case and camelCase, wrappers and duration objects", () => {
    const parsed = parseHealthCheck({
      timeout: { seconds: 2 },
      interval: "10s",
      initialJitter: "0.5s",
      interval_jitter: "1s",
      interval_jitter_percent: 10,
      unhealthyThreshold: { value: 4 },
      healthy_threshold: "5",
      no_traffic_interval: "30s",
      no_traffic_healthy_interval: "120s",
      unhealthy_interval: "20s",
      unhealthy_edge_interval: "3s",
      healthy_edge_interval: "2s",
      reuse_connection: false,
      always_log_health_check_failures: true,
      always_log_health_check_success: { value: true },
      http_health_check: {
        host: "health.local",
        path: "/ready?full=1",
        method: "HEAD",
        request_headers_to_add: [
          { header: { key: "X-Check", value: "1" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
        ],
        request_headers_to_remove: ["User-Agent"],
        expected_statuses: [
          { start: 200, end: 300 },
          { start: "404", end: "405" },
        ],
        retriableStatuses: [{ start: 503, end: 504 }],
        codec_client_type: "HTTP2",
        response_buffer_size: 1024,
      },
    });
    assert.equal(parsed.timeoutMs, 2000);
    assert.equal(parsed.initialJitterMs, 500);
    assert.equal(parsed.intervalJitterMs, 1000);
    assert.equal(parsed.intervalJitterPercent, 10);
    assert.equal(parsed.unhealthyThreshold, 4);
    assert.equal(parsed.healthyThreshold, 5);
    assert.equal(parsed.noTrafficIntervalMs, 30_000);
    assert.equal(parsed.noTrafficHealthyIntervalMs, 120_000);
    assert.equal(parsed.unhealthyIntervalMs, 20_000);
    assert.equal(parsed.unhealthyEdgeIntervalMs, 3000);
    assert.equal(parsed.healthyEdgeIntervalMs, 2000);
    assert.equal(parsed.reuseConnection, false);
    assert.equal(parsed.alwaysLogHealthCheckFailures, true);
    assert.equal(parsed.alwaysLogHealthCheckSuccess, true);
    assert.deepEqual(parsed.check, {
      kind: "http",
      host: "health.local",
      path: "/ready?full=1",
      method: "HEAD",
      requestHeadersToAdd: [{ key: "x-check", value: "1", appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" }],
      requestHeadersToRemove: ["user-agent"],
      expectedStatuses: [
        { start: 200, end: 300 },
        { start: 404, end: 405 },
      ],
      retriableStatuses: [{ start: 503, end: 504 }],
      codecClientType: "HTTP2",
    });
  });

  test("the edge intervals fall back to their state's interval", () => {
    const parsed = hc({ unhealthy_interval: "7s", http_health_check: { path: "/" } });
    assert.equal(parsed.unhealthyEdgeIntervalMs, 7000);
    assert.equal(parsed.healthyEdgeIntervalMs, 5000);
    assert.equal(hc({ no_traffic_interval: "9s", http_health_check: { path: "/" } }).noTrafficHealthyIntervalMs, 9000);
  });

  test("TCP check: hex text and base64 binary payloads", () => {
    const parsed = hc({
      tcp_health_check: { send: { text: "50494e47" }, receive: [{ text: "504F" }, { binary: "Tkc=" }] },
    });
    assert.deepEqual(parsed.check, {
      kind: "tcp",
      send: Uint8Array.from(Buffer.from("PING")),
      receive: [Uint8Array.from(Buffer.from("PO")), Uint8Array.from(Buffer.from("NG"))],
    });
    assert.deepEqual(hc({ tcp_health_check: {} }).check, { kind: "tcp", send: new Uint8Array(0), receive: [] });
  });

  test("gRPC check", () => {
    assert.deepEqual(hc({ grpc_health_check: {} }).check, { kind: "grpc", serviceName: "", authority: undefined });
    assert.deepEqual(hc({ grpc_health_check: { service_name: "echo.Echo", authority: "svc" } }).check, {
      kind: "grpc",
      serviceName: "echo.Echo",
      authority: "svc",
    });
  });

  test("required fields and the kind of check", () => {
    assertIssues(
      () => parseHealthCheck({}),
      [
        ["health_check.timeout", "required"],
        ["health_check.interval", "required"],
        ["health_check.unhealthy_threshold", "required"],
        ["health_check.healthy_threshold", "required"],
        ["health_check", "one of http_health_check, tcp_health_check, grpc_health_check is required"],
      ],
    );
    assertIssues(
      () => hc({ http_health_check: { path: "/" }, tcp_health_check: {} }),
      [
        [
          "health_check",
          "only one of http_health_check, tcp_health_check, grpc_health_check may be set, got http_health_check and tcp_health_check",
        ],
      ],
    );
    assertIssues(() => hc({ http_health_check: {} }), [["health_check.http_health_check.path", "required"]]);
  });

  test("bad values are reported with their paths", () => {
    assertIssues(
      () =>
        hc({
          timeout: "0s",
          interval: "-1s",
          unhealthy_threshold: 0,
          unhealthy_interval: "0s",
          interval_jitter_percent: -5,
          reuse_connection: "yes",
          http_health_check: { path: "/a b", host: "a\nb", method: "CONNECT", codec_client_type: "HTTP3" },
        }),
      [
        ["health_check.timeout", "expected a duration greater than 0"],
        ["health_check.interval", /not negative/],
        ["health_check.unhealthy_threshold", "expected an integer 1-4294967295, got 0"],
        ["health_check.unhealthy_interval", "expected a duration greater than 0"],
        ["health_check.interval_jitter_percent", "expected an integer 0-4294967295, got -5"],
        ["health_check.reuse_connection", 'expected true or false, got "yes"'],
        ["health_check.http_health_check.path", 'expected a path without spaces or control characters, got "/a b"'],
        ["health_check.http_health_check.host", /expected a header value without control characters/],
        ["health_check.http_health_check.method", "CONNECT is not supported yet"],
        ["health_check.http_health_check.codec_client_type", "HTTP3 is not supported yet"],
      ],
    );
  });

  test("status ranges: end exclusive, 100 <= start < end <= 600", () => {
    assertIssues(
      () =>
        hc({
          http_health_check: {
            path: "/",
            expected_statuses: [{ start: 99, end: 200 }, { start: 200, end: 601 }, { start: 300, end: 300 }, 5],
            retriable_statuses: [{ start: 500, end: 600, step: 1 }],
          },
        }),
      [
        ["health_check.http_health_check.expected_statuses[0].start", "expected a status of at least 100, got 99"],
        [
          "health_check.http_health_check.expected_statuses[1].end",
          "expected at most 600 (the end is exclusive), got 601",
        ],
        [
          "health_check.http_health_check.expected_statuses[2]",
          "expected start < end (end is exclusive), got [300, 300)",
        ],
        ["health_check.http_health_check.expected_statuses[3]", "expected an object, got 5"],
        ["health_check.http_health_check.retriable_statuses[0].step", 'unknown field "step"'],
      ],
    );
  });

  test("payloads must be hex or base64, one of the two", () => {
    assertIssues(
      () =>
        hc({
          tcp_health_check: { send: { text: "PING" }, receive: [{}, { text: "00", binary: "AA==" }, { binary: "!" }] },
        }),
      [
        ["health_check.tcp_health_check.send.text", 'expected hex digits in pairs (e.g. "50494E47"), got "PING"'],
        ["health_check.tcp_health_check.receive[0]", "one of text, binary is required"],
        ["health_check.tcp_health_check.receive[1]", "only one of text, binary may be set, got text and binary"],
        ["health_check.tcp_health_check.receive[2].binary", 'expected non-empty base64, got "!"'],
      ],
    );
  });

  test("unknown and unsupported fields are refused with their paths", () => {
    assertIssues(
      () =>
        hc({
          event_log_path: "/tmp/hc.log",
          custom_health_check: {},
          transport_socket_match_criteria: {},
          grpc_health_check: { initial_metadata: [], serviceName: "x", servce: 1 },
        }),
      [
        ["health_check.event_log_path", '"event_log_path" is not supported yet'],
        ["health_check.custom_health_check", '"custom_health_check" is not supported yet'],
        ["health_check.transport_socket_match_criteria", '"transport_socket_match_criteria" is not supported yet'],
        ["health_check.grpc_health_check.initial_metadata", '"initial_metadata" is not supported yet'],
        ["health_check.grpc_health_check.servce", 'unknown field "servce"'],
      ],
    );
    assertIssues(
      () => hc({ http_health_check: { path: "/", service_name_matcher: { exact: "x" }, receive: [] } }),
      [
        ["health_check.http_health_check.service_name_matcher", '"service_name_matcher" is not supported yet'],
        ["health_check.http_health_check.receive", '"receive" is not supported yet'],
      ],
    );
  });

  test("a cluster takes at most one health check, reported at the cluster's path", () => {
    const check = { ...BASE, http_health_check: { path: "/healthz" } };
    assert.equal(parseCluster({ name: "c", health_checks: [check] }).healthChecks.length, 1);
    assert.deepEqual(parseCluster({ name: "c" }).healthChecks, []);
    assertIssues(
      () => parseCluster({ name: "c", health_checks: [check, check] }),
      [["health_checks[1]", "only one health check per cluster is supported"]],
    );
    assertIssues(
      () => parseCluster({ name: "c", healthChecks: [{ ...BASE, tcp_health_check: { send: 1 } }] }, "clusters[0]"),
      [["clusters[0].healthChecks[0].tcp_health_check.send", "expected an object, got 1"]],
    );
  });
});
