import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadResources } from "./load.ts";
import type { VirtualService, VirtualServiceSpec } from "./types.ts";
import { assertSpecProblems, loadOne, resource, specOf } from "./testing.ts";

function fixture(name: string) {
  const file = new URL(`./testdata/${name}.yaml`, import.meta.url);
  return loadResources(readFileSync(file, "utf8"), `testdata/${name}.yaml`);
}

const toReviews = (subset: string, weight?: number) => ({
  destination: { host: "reviews", subset },
  ...(weight === undefined ? {} : { weight }),
});

describe("VirtualService: Istio's bookinfo examples", () => {
  test("virtual-service-all-v1: four services, each all to v1", () => {
    const { resources, warnings } = fixture("virtual-service-all-v1");
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      resources.map((r) => [r.kind, r.metadata.name, r.metadata.namespace]),
      ["productpage", "reviews", "ratings", "details"].map((name) => ["VirtualService", name, "default"]),
    );
    const reviews = resources[1] as VirtualService;
    assert.deepEqual(reviews.spec, {
      hosts: ["reviews"],
      gateways: [],
      http: [{ match: [], mirrors: [], route: [{ destination: { host: "reviews", subset: "v1" } }] }],
      tls: [],
      tcp: [],
      exportTo: [],
    });
  });

  test("reviews-50-v3: a 50/50 split", () => {
    const spec = fixture("virtual-service-reviews-50-v3").resources[0].spec as VirtualServiceSpec;
    assert.deepEqual(spec.http[0].route, [toReviews("v1", 50), toReviews("v3", 50)]);
  });

  test("reviews-test-v2: end-user jason goes to v2, everyone else to v1", () => {
    const spec = fixture("virtual-service-reviews-test-v2").resources[0].spec as VirtualServiceSpec;
    assert.equal(spec.http.length, 2);
    assert.deepEqual(spec.http[0].match, [
      {
        headers: { "end-user": { exact: "jason" } },
        withoutHeaders: {},
        queryParams: {},
        sourceLabels: {},
        gateways: [],
        ignoreUriCase: false,
      },
    ]);
    assert.deepEqual(spec.http[0].route, [toReviews("v2")]);
    assert.deepEqual(spec.http[1].match, []);
    assert.deepEqual(spec.http[1].route, [toReviews("v1")]);
  });

  test("ratings-test-delay: a 7 s delay for every request of jason", () => {
    const spec = fixture("virtual-service-ratings-test-delay").resources[0].spec as VirtualServiceSpec;
    assert.deepEqual(spec.http[0].fault, { delay: { fixedDelay: 7000, percentage: { value: 100 } } });
  });

  test("ratings-test-abort: HTTP 500 for every request of jason", () => {
    const spec = fixture("virtual-service-ratings-test-abort").resources[0].spec as VirtualServiceSpec;
    assert.deepEqual(spec.http[0].fault, { abort: { httpStatus: 500, percentage: { value: 100 } } });
  });
});

describe("VirtualService: every field users use", () => {
  test("match, rewrite, timeout, retries, mirror, cors, header edits", () => {
    const spec = specOf<VirtualServiceSpec>("VirtualService", {
      hosts: ["reviews.prod.svc.cluster.local", "*.example.com"],
      gateways: ["mesh"],
      exportTo: ["."],
      http: [
        {
          name: "v2-api",
          match: [
            {
              name: "api",
              uri: { prefix: "/api" },
              method: { exact: "GET" },
              authority: { regex: "^reviews(:\\d+)?$" },
              scheme: { exact: "http" },
              headers: { "x-debug": {} },
              withoutHeaders: { "x-canary": { exact: "off" } },
              queryParams: { v: { exact: "2" } },
              sourceLabels: { app: "productpage", version: "v1" },
              sourceNamespace: "bookinfo",
              port: 9080,
              ignoreUriCase: true,
            },
          ],
          rewrite: { uri: "/", authority: "reviews-v2" },
          timeout: "10s",
          retries: {
            attempts: 3,
            perTryTimeout: "2s",
            retryOn: "gateway-error,connect-failure,503",
            retryRemoteLocalities: true,
          },
          mirror: { host: "reviews-shadow", port: { number: 9080 } },
          mirrorPercentage: { value: 12.5 },
          corsPolicy: {
            allowOrigins: [{ exact: "https://example.com" }, { regex: ".*\\.example\\.com" }],
            allowMethods: ["GET", "POST"],
            allowHeaders: ["x-custom"],
            exposeHeaders: ["x-trace"],
            maxAge: "24h",
            allowCredentials: true,
          },
          headers: {
            request: { set: { "x-route": "v2" }, add: { "x-added": "1" }, remove: ["x-internal"] },
            response: { remove: ["server"] },
          },
          route: [
            { destination: { host: "reviews", subset: "v2" }, headers: { response: { set: { "x-version": "v2" } } } },
          ],
        },
      ],
    });
    const route = spec.http[0];
    assert.deepEqual(route.match[0].uri, { prefix: "/api" });
    assert.deepEqual(route.match[0].headers, { "x-debug": {} }, "{} is a presence match");
    assert.equal(route.match[0].port, 9080);
    assert.equal(route.match[0].ignoreUriCase, true);
    assert.equal(route.timeout, 10_000);
    assert.deepEqual(route.retries, {
      attempts: 3,
      perTryTimeout: 2000,
      retryOn: "gateway-error,connect-failure,503",
      retryRemoteLocalities: true,
    });
    assert.deepEqual(route.mirror, { host: "reviews-shadow", port: { number: 9080 } });
    assert.deepEqual(route.mirrorPercentage, { value: 12.5 });
    assert.equal(route.corsPolicy?.maxAge, 86_400_000);
    assert.deepEqual(route.headers?.request, {
      set: { "x-route": "v2" },
      add: { "x-added": "1" },
      remove: ["x-internal"],
    });
    assert.deepEqual(route.route?.[0].headers, { response: { set: { "x-version": "v2" }, add: {}, remove: [] } });
  });

  test("redirect, directResponse, mirrors, tcp and tls routes", () => {
    const spec = specOf<VirtualServiceSpec>("VirtualService", {
      hosts: ["web", "login.example.com"],
      http: [
        { match: [{ uri: { exact: "/old" } }], redirect: { uri: "/new", redirectCode: 308 } },
        { match: [{ uri: { exact: "/health" } }], directResponse: { status: 200, body: { string: "ok" } } },
        {
          route: [{ destination: { host: "web" } }],
          mirrors: [{ destination: { host: "a" }, percentage: { value: 5 } }, { destination: { host: "b" } }],
        },
      ],
      tcp: [
        {
          match: [{ port: 27017 }],
          route: [
            { destination: { host: "mongo", port: { number: 27017 } }, weight: 80 },
            { destination: { host: "mongo-2" }, weight: 20 },
          ],
        },
      ],
      tls: [{ match: [{ port: 443, sniHosts: ["login.example.com"] }], route: [{ destination: { host: "login" } }] }],
    });
    assert.deepEqual(spec.http[0].redirect, { uri: "/new", redirectCode: 308 });
    assert.deepEqual(spec.http[1].directResponse, { status: 200, body: { string: "ok" } });
    assert.deepEqual(spec.http[2].mirrors, [
      { destination: { host: "a" }, percentage: { value: 5 } },
      { destination: { host: "b" } },
    ]);
    assert.equal(spec.tcp[0].route[1].weight, 20);
    assert.deepEqual(spec.tls[0].match[0].sniHosts, ["login.example.com"]);
  });
});

describe("VirtualService: what is refused", () => {
  test("no hosts makes a delegate (absent or empty, as Istio reads it); no routes at all", () => {
    const http = [{ route: [{ destination: { host: "a" } }] }];
    assert.deepEqual(specOf<VirtualServiceSpec>("VirtualService", { http }).hosts, []);
    assert.deepEqual(specOf<VirtualServiceSpec>("VirtualService", { hosts: [], http }).hosts, []);
    assertSpecProblems("VirtualService", { hosts: [], tcp: [] }, [["spec", "expected at least one of http, tls, tcp"]]);
    assertSpecProblems("VirtualService", { hosts: ["a.*.com"], http }, [
      ["spec.hosts[0]", /^expected a hostname \(a wildcard only as the leftmost label/],
    ]);
  });

  test("a delegate: no gateways, tcp or tls; no second level; no source matches; the root names it", () => {
    const route = [{ destination: { host: "a" } }];
    assertSpecProblems(
      "VirtualService",
      {
        gateways: ["gw"],
        http: [{ route }, { delegate: { name: "deeper" } }],
        tcp: [{ route }],
        tls: [{ match: [{ sniHosts: ["a"] }], route }],
      },
      [
        ["spec.http[1].delegate", "a delegate VirtualService (no hosts) cannot delegate again: one level only"],
        ["spec.gateways", "a delegate VirtualService (no hosts) cannot have gateways"],
        ["spec.tcp", "a delegate VirtualService (no hosts) cannot have tcp routes"],
        ["spec.tls", "a delegate VirtualService (no hosts) cannot have tls routes"],
      ],
    );
    assertSpecProblems(
      "VirtualService",
      { http: [{ match: [{ sourceLabels: { app: "x" }, gateways: ["mesh"], sourceNamespace: "n" }], route }] },
      [
        ["spec.http[0].match[0].sourceLabels", "a delegate VirtualService cannot match on sourceLabels; the root does"],
        ["spec.http[0].match[0].gateways", "a delegate VirtualService cannot match on gateways; the root does"],
        [
          "spec.http[0].match[0].sourceNamespace",
          "a delegate VirtualService cannot match on sourceNamespace; the root does",
        ],
      ],
    );
    const root = specOf<VirtualServiceSpec>("VirtualService", {
      hosts: ["a"],
      http: [{ match: [{ uri: { prefix: "/x" } }], delegate: { name: "x", namespace: "other" }, timeout: "2s" }],
    });
    assert.deepEqual(root.http[0]!.delegate, { name: "x", namespace: "other" });
    assert.equal(root.http[0]!.timeout, 2000);
    assertSpecProblems("VirtualService", { hosts: ["a"], http: [{ delegate: {} }] }, [
      ["spec.http[0].delegate.name", "required"],
    ]);
  });

  test('host "*" only through a gateway, never for the mesh', () => {
    const http = [{ route: [{ destination: { host: "a" } }] }];
    assertSpecProblems("VirtualService", { hosts: ["*"], http }, [
      ["spec.hosts", 'a VirtualService bound to the mesh (gateways empty or "mesh") cannot have host "*"'],
    ]);
    assert.deepEqual(
      specOf<VirtualServiceSpec>("VirtualService", { hosts: ["*"], gateways: ["istio-system/ingress"], http }).hosts,
      ["*"],
    );
  });

  test("an http route needs exactly one of route, redirect, directResponse, delegate", () => {
    assertSpecProblems("VirtualService", { hosts: ["a"], http: [{ match: [{ uri: { prefix: "/" } }] }] }, [
      ["spec.http[0]", "one of route, redirect, directResponse, delegate is required"],
    ]);
    assertSpecProblems(
      "VirtualService",
      { hosts: ["a"], http: [{ route: [{ destination: { host: "a" } }], redirect: { uri: "/x" } }] },
      [["spec.http[0]", "only one of route, redirect, directResponse, delegate may be set, got route and redirect"]],
    );
    assertSpecProblems(
      "VirtualService",
      { hosts: ["a"], http: [{ route: [{ destination: { host: "a" } }], delegate: { name: "other" } }] },
      [["spec.http[0]", "only one of route, redirect, directResponse, delegate may be set, got route and delegate"]],
    );
  });

  test("weights are relative (Istio): 1 and 3, or 60 and 30, are accepted as written", () => {
    const http = (route: unknown) => ({ hosts: ["reviews"], http: [{ route }] });
    const spec = specOf<VirtualServiceSpec>("VirtualService", http([toReviews("v1", 1), toReviews("v3", 3)]));
    assert.deepEqual(
      spec.http[0].route?.map((d) => d.weight),
      [1, 3],
    );
    const big = specOf<VirtualServiceSpec>("VirtualService", http([toReviews("v1", 600), toReviews("v3", 300)]));
    assert.deepEqual(
      big.http[0].route?.map((d) => d.weight),
      [600, 300],
    );
  });

  test("weights: each >= 0, not all 0 across several destinations (Istio: total destination weight = 0)", () => {
    const http = (route: unknown) => ({ hosts: ["reviews"], http: [{ route }] });
    const zero = "expected the weights of its destinations to sum to more than 0 (they are relative), got 0";
    assertSpecProblems("VirtualService", http([toReviews("v1", 0), toReviews("v3", 0)]), [
      ["spec.http[0].route", zero],
    ]);
    assertSpecProblems("VirtualService", http([toReviews("v1"), toReviews("v3")]), [["spec.http[0].route", zero]]);
    assertSpecProblems("VirtualService", http([toReviews("v1", 1.5), toReviews("v3", -50)]), [
      ["spec.http[0].route[0].weight", "expected an integer >= 0, got 1.5"],
      ["spec.http[0].route[1].weight", "expected an integer >= 0, got -50"],
      ["spec.http[0].route", zero],
    ]);
    assertSpecProblems("VirtualService", http([{ weight: 100 }]), [["spec.http[0].route[0].destination", "required"]]);
    assertSpecProblems("VirtualService", http([]), [["spec.http[0].route", "expected at least one destination"]]);
  });

  test("retries, timeouts, faults, percentages, ports, regexes", () => {
    assertSpecProblems(
      "VirtualService",
      {
        hosts: ["a"],
        http: [
          {
            match: [{ port: 70000, uri: { regex: "(" }, headers: { x: { exact: "1", prefix: "2" } } }],
            route: [{ destination: { host: "a", port: { number: 0 } } }],
            timeout: "soon",
            retries: { attempts: -1, perTryTimeout: "0s", retryOn: "5xx,sometimes" },
            fault: { delay: { percentage: { value: 101 } }, abort: { httpStatus: 700 } },
            mirrorPercentage: { value: 50 },
          },
        ],
      },
      [
        ["spec.http[0].match[0].headers.x", "only one of exact, prefix, regex may be set, got exact and prefix"],
        ["spec.http[0].match[0].uri.regex", /^expected a valid regular expression, got "\("/],
        ["spec.http[0].match[0].port", "expected an integer 1-65535, got 70000"],
        ["spec.http[0].route[0].destination.port.number", "expected an integer 1-65535, got 0"],
        ["spec.http[0].timeout", 'expected a duration like "1s", "100ms", "1.5s" or "1h", got "soon"'],
        ["spec.http[0].retries.attempts", "expected an integer >= 0, got -1"],
        ["spec.http[0].retries.perTryTimeout", 'expected a duration of at least 1ms, got "0s"'],
        ["spec.http[0].retries.retryOn", /^expected retry conditions \(5xx, .*\) or status codes, got "sometimes"$/],
        ["spec.http[0].fault.delay.fixedDelay", "required"],
        ["spec.http[0].fault.delay.percentage.value", "expected a number 0-100, got 101"],
        ["spec.http[0].fault.abort.httpStatus", "expected an integer 200-599, got 700"],
        ["spec.http[0]", 'mirrorPercentage needs "mirror" (with "mirrors", give each its own percentage)'],
      ],
    );
  });

  test("wrong types name what was expected", () => {
    assertSpecProblems("VirtualService", { hosts: "reviews", http: { route: [] } }, [
      ["spec.hosts", 'expected a list, got "reviews"'],
      ["spec.http", "expected a list, got an object"],
    ]);
    assertSpecProblems(
      "VirtualService",
      { hosts: ["a"], http: [{ route: [{ destination: { host: "a" } }], match: [{ sourceLabels: { version: 1 } }] }] },
      [["spec.http[0].match[0].sourceLabels.version", 'expected a string, got 1 (quote it: "1")']],
    );
  });
});

describe("VirtualService: older spellings and unknown fields", () => {
  test("fault percent and mirrorPercent are read as percentage, with a warning each", () => {
    const { resources, warnings } = fixture("deprecated-spellings");
    const vs = resources[0] as VirtualService;
    assert.deepEqual(vs.spec.http[0].fault, {
      delay: { fixedDelay: 5000, percentage: { value: 10 } },
      abort: { httpStatus: 503, percentage: { value: 20 } },
    });
    assert.deepEqual(vs.spec.http[0].mirrorPercentage, { value: 25 });
    assert.deepEqual(
      warnings.filter((w) => w.document === 0).map((w) => [w.resource, w.path, w.message]),
      [
        [
          "VirtualService/bookinfo/ratings",
          "spec.http[0].fault.delay.percent",
          '"percent" is deprecated: read as "percentage: {value: 10}"; write that instead',
        ],
        [
          "VirtualService/bookinfo/ratings",
          "spec.http[0].fault.abort.percent",
          '"percent" is deprecated: read as "percentage: {value: 20}"; write that instead',
        ],
        [
          "VirtualService/bookinfo/ratings",
          "spec.http[0].mirrorPercent",
          '"mirrorPercent" is deprecated: read as "mirrorPercentage: {value: 25}"; write that instead',
        ],
      ],
    );
  });

  test("percent and percentage together are refused", () => {
    assertSpecProblems(
      "VirtualService",
      {
        hosts: ["a"],
        http: [
          {
            route: [{ destination: { host: "a" } }],
            fault: { abort: { httpStatus: 500, percent: 5, percentage: { value: 5 } } },
          },
        ],
      },
      [["spec.http[0].fault.abort", "only one of percentage, percent may be set, got percentage and percent"]],
    );
  });

  test("corsPolicy.allowOrigin becomes exact allowOrigins", () => {
    const { resource: r, warnings } = loadOne(
      resource("VirtualService", {
        hosts: ["a"],
        http: [{ route: [{ destination: { host: "a" } }], corsPolicy: { allowOrigin: ["https://a.example"] } }],
      }),
    );
    assert.deepEqual((r as VirtualService).spec.http[0].corsPolicy?.allowOrigins, [{ exact: "https://a.example" }]);
    assert.deepEqual(warnings, [
      [
        "spec.http[0].corsPolicy.allowOrigin",
        '"allowOrigin" is deprecated: read as "allowOrigins" with exact matches; write that instead',
      ],
    ]);
  });

  test("an unknown field is a warning naming it, at any depth; the resource is still accepted", () => {
    const { resource: r, warnings } = loadOne(
      resource("VirtualService", {
        hosts: ["a"],
        hostz: ["b"],
        http: [{ route: [{ destination: { host: "a", subsett: "v1" } }], timeOut: "1s" }],
      }),
    );
    assert.deepEqual((r as VirtualService).spec.http[0].route, [{ destination: { host: "a" } }]);
    assert.deepEqual(
      warnings.map(([path, message]) => [path, message.replace(/ \(known here: .*\)$/, "")]),
      [
        ["spec.hostz", 'unknown field "hostz" ignored'],
        ["spec.http[0].timeOut", 'unknown field "timeOut" ignored'],
        ["spec.http[0].route[0].destination.subsett", 'unknown field "subsett" ignored'],
      ],
    );
    assert.match(warnings[0][1], /known here: hosts, gateways, http, tls, tcp, exportTo\)$/);
  });
});
