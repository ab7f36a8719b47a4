import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseCluster } from "./cluster.ts";
import { OUTLIER_DEFAULTS } from "./outlier-detection.ts";
import { assertIssues } from "./testing.ts";

function outlier(raw: unknown) {
  return parseCluster({ name: "c", outlier_detection: raw }).outlierDetection;
}

describe("outlier_detection", () => {
  test("absent: none; empty: every one of Envoy's defaults", () => {
    assert.equal(parseCluster({ name: "c" }).outlierDetection, undefined);
    assert.deepEqual(outlier({}), {
      consecutive5xx: 5,
      consecutiveGatewayFailure: 5,
      consecutiveLocalOriginFailure: 5,
      intervalMs: 10_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionTimeJitterMs: 0,
      maxEjectionPercent: 10,
      enforcingConsecutive5xx: 100,
      enforcingConsecutiveGatewayFailure: 0,
      enforcingConsecutiveLocalOriginFailure: 100,
      enforcingSuccessRate: 100,
      enforcingLocalOriginSuccessRate: 100,
      enforcingFailurePercentage: 0,
      enforcingFailurePercentageLocalOrigin: 0,
      successRateMinimumHosts: 5,
      successRateRequestVolume: 100,
      successRateStdevFactor: 1900,
      failurePercentageThreshold: 85,
      failurePercentageMinimumHosts: 5,
      failurePercentageRequestVolume: 50,
      splitExternalLocalOriginErrors: false,
      successfulActiveHealthCheckUnejectHost: true,
      alwaysEjectOneHost: false,
    });
    assert.deepEqual(outlier({}), OUTLIER_DEFAULTS);
  });

  test("every field, snake_case and camelCase, wrappers and plain values", () => {
    const parsed = outlier({
      consecutive_5xx: 3,
      consecutiveGatewayFailure: { value: 4 },
      consecutive_local_origin_failure: "6",
      interval: "1s",
      base_ejection_time: { seconds: 2 },
      max_ejection_time: "20s",
      max_ejection_time_jitter: "0.5s",
      max_ejection_percent: 50,
      enforcing_consecutive_5xx: 90,
      enforcing_consecutive_gateway_failure: 80,
      enforcing_consecutive_local_origin_failure: 70,
      enforcing_success_rate: 60,
      enforcing_local_origin_success_rate: 50,
      enforcing_failure_percentage: 40,
      enforcing_failure_percentage_local_origin: 30,
      success_rate_minimum_hosts: 2,
      success_rate_request_volume: 10,
      success_rate_stdev_factor: 1000,
      failure_percentage_threshold: 60,
      failure_percentage_minimum_hosts: 3,
      failure_percentage_request_volume: 20,
      split_external_local_origin_errors: true,
      successful_active_health_check_uneject_host: { value: false },
      always_eject_one_host: true,
    });
    assert.deepEqual(parsed, {
      consecutive5xx: 3,
      consecutiveGatewayFailure: 4,
      consecutiveLocalOriginFailure: 6,
      intervalMs: 1_000,
      baseEjectionTimeMs: 2_000,
      maxEjectionTimeMs: 20_000,
      maxEjectionTimeJitterMs: 500,
      maxEjectionPercent: 50,
      enforcingConsecutive5xx: 90,
      enforcingConsecutiveGatewayFailure: 80,
      enforcingConsecutiveLocalOriginFailure: 70,
      enforcingSuccessRate: 60,
      enforcingLocalOriginSuccessRate: 50,
      enforcingFailurePercentage: 40,
      enforcingFailurePercentageLocalOrigin: 30,
      successRateMinimumHosts: 2,
      successRateRequestVolume: 10,
      successRateStdevFactor: 1000,
      failurePercentageThreshold: 60,
      failurePercentageMinimumHosts: 3,
      failurePercentageRequestVolume: 20,
      splitExternalLocalOriginErrors: true,
      successfulActiveHealthCheckUnejectHost: false,
      alwaysEjectOneHost: true,
    });
  });

  test("an unset max_ejection_time is 300 s or base_ejection_time, whichever is larger", () => {
    assert.equal(outlier({ base_ejection_time: "10s" })!.maxEjectionTimeMs, 300_000);
    assert.equal(outlier({ base_ejection_time: "600s" })!.maxEjectionTimeMs, 600_000);
  });

  test("errors name the field path and what was expected", () => {
    const at = "outlier_detection";
    assertIssues(
      () =>
        parseCluster({
          name: "c",
          outlier_detection: {
            interval: "0s",
            base_ejection_time: "-1s",
            max_ejection_time: "0s",
            max_ejection_percent: 101,
            enforcing_consecutive_5xx: 150,
            enforcing_consecutive_gateway_failure: -1,
            enforcing_consecutive_local_origin_failure: 101,
            enforcing_success_rate: 101,
            enforcing_local_origin_success_rate: 101,
            enforcing_failure_percentage: 101,
            enforcing_failure_percentage_local_origin: 101,
            failure_percentage_threshold: 200,
            consecutive_5xx: "many",
            split_external_local_origin_errors: "yes",
            monitors: [],
            detect_everything: true,
          },
        }),
      [
        [`${at}.monitors`, '"monitors" is not supported yet'],
        [`${at}.detect_everything`, 'unknown field "detect_everything"'],
        [`${at}.base_ejection_time`, 'expected a duration that is not negative, got "-1s"'],
        [`${at}.max_ejection_time`, "expected a duration greater than 0"],
        [`${at}.consecutive_5xx`, 'expected an integer 0-4294967295, got "many"'],
        [`${at}.interval`, "expected a duration greater than 0"],
        [`${at}.max_ejection_percent`, "expected an integer 0-100, got 101"],
        [`${at}.enforcing_consecutive_5xx`, "expected an integer 0-100, got 150"],
        [`${at}.enforcing_consecutive_gateway_failure`, "expected an integer 0-100, got -1"],
        [`${at}.enforcing_consecutive_local_origin_failure`, "expected an integer 0-100, got 101"],
        [`${at}.enforcing_success_rate`, "expected an integer 0-100, got 101"],
        [`${at}.enforcing_local_origin_success_rate`, "expected an integer 0-100, got 101"],
        [`${at}.enforcing_failure_percentage`, "expected an integer 0-100, got 101"],
        [`${at}.enforcing_failure_percentage_local_origin`, "expected an integer 0-100, got 101"],
        [`${at}.failure_percentage_threshold`, "expected an integer 0-100, got 200"],
        [`${at}.split_external_local_origin_errors`, 'expected true or false, got "yes"'],
      ],
    );
    assertIssues(
      () => parseCluster({ name: "c", outlierDetection: { baseEjectionTime: "60s", maxEjectionTime: "30s" } }),
      [
        [
          "outlierDetection.maxEjectionTime",
          "is 30000 ms, less than base_ejection_time 60000 ms; expected at least base_ejection_time",
        ],
      ],
    );
    assertIssues(
      () => parseCluster({ name: "c", outlier_detection: 5 }),
      [["outlier_detection", "expected an object, got 5"]],
    );
  });
});

describe("common_lb_config.healthy_panic_threshold", () => {
  const threshold = (raw: unknown) => parseCluster({ name: "c", common_lb_config: raw }).healthyPanicThreshold;

  test("default 50; a Percent value 0-100; an empty Percent is 0 (panic off)", () => {
    assert.equal(parseCluster({ name: "c" }).healthyPanicThreshold, 50);
    assert.equal(threshold({}), 50);
    assert.equal(threshold({ healthy_panic_threshold: { value: 25.5 } }), 25.5);
    assert.equal(threshold({ healthyPanicThreshold: { value: 0 } }), 0);
    assert.equal(threshold({ healthy_panic_threshold: {} }), 0);
    assert.equal(threshold({ healthy_panic_threshold: { value: 100 }, update_merge_window: "1s" }), 100);
  });

  test("errors", () => {
    assertIssues(
      () =>
        parseCluster({
          name: "c",
          common_lb_config: { healthy_panic_threshold: { value: 120 }, zone_aware_lb_config: {} },
        }),
      [
        ["common_lb_config.zone_aware_lb_config", '"zone_aware_lb_config" is not supported yet'],
        ["common_lb_config.healthy_panic_threshold.value", "expected a percentage 0-100, got 120"],
      ],
    );
    assertIssues(
      () => parseCluster({ name: "c", common_lb_config: { healthy_panic_threshold: 30 } }),
      [["common_lb_config.healthy_panic_threshold", "expected an object, got 30"]],
    );
    assertIssues(
      () => parseCluster({ name: "c", common_lb_config: { healthy_panic_threshold: { value: "half" } } }),
      [["common_lb_config.healthy_panic_threshold.value", 'expected a percentage 0-100, got "half"']],
    );
  });
});
