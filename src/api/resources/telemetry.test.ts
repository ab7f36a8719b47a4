import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { TelemetrySpec } from "./types.ts";
import { assertSpecProblems, specOf } from "./testing.ts";

describe("Telemetry", () => {
  test("Istio's examples: sampling, a metric override, access logs with a filter", () => {
    const spec = specOf<TelemetrySpec>("Telemetry", {
      tracing: [
        {
          providers: [{ name: "zipkin" }],
          randomSamplingPercentage: 10,
          customTags: { env: { literal: { value: "prod" } } },
        },
      ],
      metrics: [
        {
          providers: [{ name: "prometheus" }],
          overrides: [
            {
              match: { metric: "REQUEST_COUNT", mode: "CLIENT" },
              tagOverrides: { request_host: { operation: "REMOVE" } },
            },
          ],
          reportingInterval: "15s",
        },
      ],
      accessLogging: [{ providers: [{ name: "envoy" }], filter: { expression: "response.code >= 400" } }],
    });
    assert.deepEqual(spec.tracing, [
      {
        providers: [{ name: "zipkin" }],
        customTags: { env: { literal: { value: "prod" } } },
        randomSamplingPercentage: 10,
      },
    ]);
    assert.deepEqual(spec.metrics[0].overrides, [
      { tagOverrides: { request_host: { operation: "REMOVE" } }, match: { metric: "REQUEST_COUNT", mode: "CLIENT" } },
    ]);
    assert.equal(spec.metrics[0].reportingInterval, 15_000);
    assert.deepEqual(spec.accessLogging, [
      { providers: [{ name: "envoy" }], filter: { expression: "response.code >= 400" } },
    ]);
  });

  test("refused: sampling over 100, a provider without a name, an unknown mode", () => {
    assertSpecProblems(
      "Telemetry",
      { tracing: [{ randomSamplingPercentage: 150, providers: [{}] }], accessLogging: [{ match: { mode: "BOTH" } }] },
      [
        ["spec.tracing[0].providers[0].name", "required"],
        ["spec.tracing[0].randomSamplingPercentage", "expected a number 0-100, got 150"],
        ["spec.accessLogging[0].match.mode", 'expected one of CLIENT_AND_SERVER, CLIENT, SERVER, got "BOTH"'],
      ],
    );
  });
});
