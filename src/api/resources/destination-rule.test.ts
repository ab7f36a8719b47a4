import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadResources } from "./load.ts";
import type { DestinationRule, DestinationRuleSpec } from "./types.ts";
import { assertSpecProblems, loadOne, resource, specOf } from "./testing.ts";

describe("DestinationRule", () => {
  test("bookinfo's destination-rule-all: subsets by version label", () => {
    const file = new URL("./testdata/destination-rule-all.yaml", import.meta.url);
    const { resources, warnings } = loadResources(readFileSync(file, "utf8"), "destination-rule-all.yaml");
    assert.deepEqual(warnings, []);
    const reviews = resources[1] as DestinationRule;
    assert.equal(reviews.spec.host, "reviews");
    assert.deepEqual(
      reviews.spec.subsets,
      ["v1", "v2", "v3"].map((v) => ({ name: v, labels: { version: v } })),
    );
  });

  test("every traffic policy field users use, at the top, per port and per subset", () => {
    const spec = specOf<DestinationRuleSpec>("DestinationRule", {
      host: "reviews.default.svc.cluster.local",
      exportTo: ["*"],
      trafficPolicy: {
        loadBalancer: {
          consistentHash: { httpCookie: { name: "user", path: "/", ttl: "0s" }, ringHash: { minimumRingSize: 1024 } },
          localityLbSetting: { enabled: true, failover: [{ from: "us-east", to: "us-west" }] },
          warmupDurationSecs: "60s",
        },
        connectionPool: {
          tcp: {
            maxConnections: 100,
            connectTimeout: "30ms",
            tcpKeepalive: { time: "7200s", interval: "75s", probes: 9 },
          },
          http: {
            http1MaxPendingRequests: 10,
            http2MaxRequests: 1000,
            maxRequestsPerConnection: 1,
            maxRetries: 3,
            idleTimeout: "1h",
            h2UpgradePolicy: "UPGRADE",
          },
        },
        outlierDetection: {
          consecutive5xxErrors: 5,
          consecutiveGatewayErrors: 3,
          consecutiveLocalOriginFailures: 2,
          splitExternalLocalOriginErrors: true,
          interval: "10s",
          baseEjectionTime: "30s",
          maxEjectionPercent: 50,
          minHealthPercent: 10,
        },
        tls: { mode: "ISTIO_MUTUAL", sni: "reviews" },
        portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { simple: "LEAST_REQUEST" } }],
      },
      subsets: [
        { name: "v1", labels: { version: "v1" }, trafficPolicy: { loadBalancer: { simple: "ROUND_ROBIN" } } },
        { name: "v2", labels: { version: "v2" } },
      ],
    });
    const policy = spec.trafficPolicy!;
    assert.deepEqual(policy.loadBalancer, {
      consistentHash: { httpCookie: { name: "user", path: "/", ttl: 0 }, ringHash: { minimumRingSize: 1024 } },
      localityLbSetting: {
        distribute: [],
        failover: [{ from: "us-east", to: "us-west" }],
        failoverPriority: [],
        enabled: true,
      },
      warmupDurationSecs: 60_000,
    });
    assert.deepEqual(policy.connectionPool, {
      tcp: { maxConnections: 100, connectTimeout: 30, tcpKeepalive: { probes: 9, time: 7_200_000, interval: 75_000 } },
      http: {
        http1MaxPendingRequests: 10,
        http2MaxRequests: 1000,
        maxRequestsPerConnection: 1,
        maxRetries: 3,
        idleTimeout: 3_600_000,
        h2UpgradePolicy: "UPGRADE",
      },
    });
    assert.deepEqual(policy.outlierDetection, {
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailures: 2,
      consecutiveGatewayErrors: 3,
      consecutive5xxErrors: 5,
      interval: 10_000,
      baseEjectionTime: 30_000,
      maxEjectionPercent: 50,
      minHealthPercent: 10,
    });
    assert.deepEqual(policy.tls, { mode: "ISTIO_MUTUAL", subjectAltNames: [], sni: "reviews" });
    assert.deepEqual(policy.portLevelSettings, [{ port: { number: 9080 }, loadBalancer: { simple: "LEAST_REQUEST" } }]);
    assert.deepEqual(spec.subsets[0].trafficPolicy, { loadBalancer: { simple: "ROUND_ROBIN" }, portLevelSettings: [] });
  });

  test("refused: missing host, bad subsets, load balancer choices, ranges, TLS without certificates", () => {
    assertSpecProblems(
      "DestinationRule",
      {
        trafficPolicy: {
          loadBalancer: { simple: "FASTEST", consistentHash: { httpHeaderName: "x", useSourceIp: true } },
          connectionPool: { tcp: { maxConnections: 0, connectTimeout: "0s" }, http: { h2UpgradePolicy: "ALWAYS" } },
          outlierDetection: { maxEjectionPercent: 150, consecutiveLocalOriginFailures: 3 },
          tls: { mode: "MUTUAL" },
          portLevelSettings: [{ port: { number: 80 } }, { port: { number: 80 } }, {}],
        },
        subsets: [{ name: "V1" }, { name: "v2" }, { name: "v2" }, { labels: { version: "v3" } }],
      },
      [
        ["spec.host", "required"],
        [
          "spec.trafficPolicy.loadBalancer",
          "only one of simple, consistentHash may be set, got simple and consistentHash",
        ],
        [
          "spec.trafficPolicy.loadBalancer.simple",
          /^expected one of UNSPECIFIED, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST, LEAST_CONN, got "FASTEST"$/,
        ],
        [
          "spec.trafficPolicy.loadBalancer.consistentHash",
          "only one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName may be set, got httpHeaderName and useSourceIp",
        ],
        ["spec.trafficPolicy.connectionPool.tcp.maxConnections", "expected an integer >= 1, got 0"],
        ["spec.trafficPolicy.connectionPool.tcp.connectTimeout", 'expected a duration of at least 1ms, got "0s"'],
        [
          "spec.trafficPolicy.connectionPool.http.h2UpgradePolicy",
          'expected one of DEFAULT, DO_NOT_UPGRADE, UPGRADE, got "ALWAYS"',
        ],
        ["spec.trafficPolicy.outlierDetection.maxEjectionPercent", "expected an integer 0-100, got 150"],
        [
          "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
          "needs splitExternalLocalOriginErrors: true (Istio's rule)",
        ],
        ["spec.trafficPolicy.tls.clientCertificate", "required when mode is MUTUAL (or give credentialName)"],
        ["spec.trafficPolicy.tls.privateKey", "required when mode is MUTUAL (or give credentialName)"],
        [
          "spec.trafficPolicy.portLevelSettings[0]",
          "expected at least one of loadBalancer, connectionPool, outlierDetection, tls besides the port",
        ],
        ["spec.trafficPolicy.portLevelSettings[1].port", "port 80 appears in more than one portLevelSettings entry"],
        [
          "spec.trafficPolicy.portLevelSettings[1]",
          "expected at least one of loadBalancer, connectionPool, outlierDetection, tls besides the port",
        ],
        ["spec.trafficPolicy.portLevelSettings[2].port", "required"],
        [
          "spec.trafficPolicy.portLevelSettings[2]",
          "expected at least one of loadBalancer, connectionPool, outlierDetection, tls besides the port",
        ],
        ["spec.subsets[0].name", 'expected a DNS-1123 label (lower case letters, digits, "-"), got "V1"'],
        ["spec.subsets[2].name", 'subset "v2" is defined twice'],
        ["spec.subsets[3].name", "required"],
      ],
    );
  });

  test("outlierDetection.consecutiveErrors (Istio < 1.5) is read as consecutive5xxErrors, with a warning", () => {
    const { resource: r, warnings } = loadOne(
      resource("DestinationRule", { host: "ratings", trafficPolicy: { outlierDetection: { consecutiveErrors: 7 } } }),
    );
    assert.deepEqual((r as DestinationRule).spec.trafficPolicy?.outlierDetection, { consecutive5xxErrors: 7 });
    assert.deepEqual(warnings, [
      [
        "spec.trafficPolicy.outlierDetection.consecutiveErrors",
        '"consecutiveErrors" is deprecated: read as "consecutive5xxErrors: 7"; write that instead',
      ],
    ]);
    assertSpecProblems(
      "DestinationRule",
      { host: "a", trafficPolicy: { outlierDetection: { consecutiveErrors: 7, consecutive5xxErrors: 5 } } },
      [
        [
          "spec.trafficPolicy.outlierDetection.consecutiveErrors",
          "only one of consecutiveErrors (deprecated) and consecutive5xxErrors may be set",
        ],
      ],
    );
  });

  test("consistentHash.minimumRingSize (deprecated) moves into ringHash; tunnel is refused as unsupported", () => {
    const { resource: r, warnings } = loadOne(
      resource("DestinationRule", {
        host: "a",
        trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, minimumRingSize: 64 } } },
      }),
    );
    assert.deepEqual((r as DestinationRule).spec.trafficPolicy?.loadBalancer?.consistentHash, {
      useSourceIp: true,
      ringHash: { minimumRingSize: 64 },
    });
    assert.equal(warnings.length, 1);
    assertSpecProblems("DestinationRule", { host: "a", trafficPolicy: { tunnel: { protocol: "CONNECT" } } }, [
      ["spec.trafficPolicy.tunnel", "tunnel (HTTP CONNECT tunnelling) is not supported"],
    ]);
  });
});
