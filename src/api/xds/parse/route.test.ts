import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../errors.ts";
import type { DirectResponseAction, RedirectAction, RetryPolicy, Route, RouteAction } from "../types.ts";
import { ParseContext } from "./context.ts";
import { parseRouteConfiguration, readRouteConfiguration } from "./route.ts";
import { assertIssues, issuesOf } from "./testing.ts";

function config(routes: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { name: "rc", virtual_hosts: [{ name: "vh", domains: ["*"], routes }], ...extra };
}

function parseRoute(route: unknown): Route {
  return parseRouteConfiguration(config([route])).virtualHosts[0].routes[0];
}

function routeAction(action: unknown, match: unknown = { prefix: "/" }): RouteAction {
  const parsed = parseRoute({ match, route: action }).action;
  assert.equal(parsed.kind, "route");
  return parsed as RouteAction;
}

const R0 = "virtual_hosts[0].routes[0]";

describe("RouteConfiguration and virtual hosts", () => {
  test("names, domains lower-cased, header edits with every append default", () => {
    const parsed = parseRouteConfiguration({
      name: "local",
      request_headers_to_add: [{ header: { key: "X-A", value: "1" } }],
      request_headers_to_remove: ["X-Internal"],
      response_headers_to_add: [
        { header: { key: "x-b", value: "2" }, append: false },
        { header: { key: "x-c", value: "3" }, append: { value: true } },
        { header: { key: "x-d" }, append_action: "ADD_IF_ABSENT" },
        { header: { key: "x-e", value: "5" }, appendAction: "OVERWRITE_IF_EXISTS" },
        { header: { key: "x-f", value: "%DOWNSTREAM_REMOTE_ADDRESS%" }, append_action: 2 },
      ],
      responseHeadersToRemove: ["server"],
      virtual_hosts: [
        {
          name: "web",
          domains: ["Example.COM", "*.example.com", "www.*", "example.com:8080"],
          routes: [],
          request_headers_to_add: [{ header: { key: "x-vh", value: "v" } }],
          metadata: { ignored: true },
        },
      ],
    });
    assert.equal(parsed.name, "local");
    assert.deepEqual(parsed.requestHeadersToAdd, [{ key: "x-a", value: "1", appendAction: "APPEND_IF_EXISTS_OR_ADD" }]);
    assert.deepEqual(parsed.requestHeadersToRemove, ["x-internal"]);
    assert.deepEqual(parsed.responseHeadersToAdd, [
      { key: "x-b", value: "2", appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" },
      { key: "x-c", value: "3", appendAction: "APPEND_IF_EXISTS_OR_ADD" },
      { key: "x-d", value: "", appendAction: "ADD_IF_ABSENT" },
      { key: "x-e", value: "5", appendAction: "OVERWRITE_IF_EXISTS" },
      { key: "x-f", value: "%DOWNSTREAM_REMOTE_ADDRESS%", appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" },
    ]);
    assert.deepEqual(parsed.responseHeadersToRemove, ["server"]);
    const [vhost] = parsed.virtualHosts;
    assert.equal(vhost.name, "web");
    assert.deepEqual(vhost.domains, ["example.com", "*.example.com", "www.*", "example.com:8080"]);
    assert.deepEqual(vhost.routes, []);
    assert.deepEqual(vhost.requestHeadersToAdd, [{ key: "x-vh", value: "v", appendAction: "APPEND_IF_EXISTS_OR_ADD" }]);
    assert.deepEqual(vhost.responseHeadersToAdd, []);
    assert.deepEqual(vhost.requestHeadersToRemove, []);
  });

  test("an empty configuration is valid and has defaults", () => {
    assert.deepEqual(parseRouteConfiguration({}), {
      name: "",
      virtualHosts: [],
      requestHeadersToAdd: [],
      requestHeadersToRemove: [],
      responseHeadersToAdd: [],
      responseHeadersToRemove: [],
    });
  });

  test("domain rules: not empty, unique across virtual hosts, one wildcard at an edge", () => {
    assertIssues(
      () =>
        parseRouteConfiguration({
          virtual_hosts: [
            { name: "a", domains: ["a.com", "*", "A.com"] },
            { name: "b", domains: [] },
            { name: "c", domains: ["*.a.*", "a*b.com", "", 5, "*", "a.COM"] },
            { name: "d" },
          ],
        }),
      [
        ["virtual_hosts[1].domains", "expected at least one domain"],
        ["virtual_hosts[2].domains[0]", 'only one wildcard "*", at the start or the end, is allowed, got "*.a.*"'],
        ["virtual_hosts[2].domains[1]", 'only one wildcard "*", at the start or the end, is allowed, got "a*b.com"'],
        ["virtual_hosts[2].domains[2]", 'expected a domain, got ""'],
        ["virtual_hosts[2].domains[3]", "expected a domain, got 5"],
        ["virtual_hosts[3].domains", "required"],
        ["virtual_hosts[0].domains[2]", 'duplicate domain "a.com" (already in this virtual host)'],
        ["virtual_hosts[2].domains[4]", 'duplicate domain "*" (already in virtual host "a")'],
        ["virtual_hosts[2].domains[5]", 'duplicate domain "a.com" (already in virtual host "a")'],
      ],
    );
  });

  test("header edit errors: missing header, missing key, pseudo-headers and host, both append forms, bad action", () => {
    assertIssues(
      () =>
        parseRouteConfiguration({
          request_headers_to_add: [
            { append: true },
            { header: { value: "x" } },
            { header: { key: ":path", value: "/" } },
            { header: { key: "x", value: "1" }, append: true, append_action: "ADD_IF_ABSENT" },
            { header: { key: "x", value: "1" }, append_action: "SOMETIMES" },
            { header: { key: "bad key", value: "1" } },
          ],
          request_headers_to_remove: ["Host", 7],
        }),
      [
        ["request_headers_to_add[0].header", "required"],
        ["request_headers_to_add[1].header.key", "required"],
        [
          "request_headers_to_add[2].header.key",
          '":path": pseudo-headers and host may not be modified by header edits',
        ],
        ["request_headers_to_add[3]", "append and append_action cannot both be set (append is deprecated)"],
        [
          "request_headers_to_add[4].append_action",
          'expected one of APPEND_IF_EXISTS_OR_ADD, ADD_IF_ABSENT, OVERWRITE_IF_EXISTS_OR_ADD, OVERWRITE_IF_EXISTS, got "SOMETIMES"',
        ],
        ["request_headers_to_add[5].header.key", 'expected a header name, got "bad key"'],
        ["request_headers_to_remove[0]", '"Host": pseudo-headers and host may not be modified by header edits'],
        ["request_headers_to_remove[1]", "expected a header name, got 7"],
      ],
    );
  });

  test("unknown and unsupported fields at each level", () => {
    assertIssues(
      () =>
        parseRouteConfiguration({
          vhds: {},
          colour: "red",
          virtual_hosts: [
            {
              name: "v",
              domains: ["*"],
              require_tls: "ALL",
              routes: [{ match: { prefix: "/" }, direct_response: { status: 200 }, shape: 1 }],
            },
          ],
        }),
      [
        ["vhds", '"vhds" is not supported yet'],
        ["colour", 'unknown field "colour"'],
        ["virtual_hosts[0].require_tls", '"require_tls" is not supported yet'],
        ["virtual_hosts[0].routes[0].shape", 'unknown field "shape"'],
      ],
    );
  });

  test("the ConfigError names the route configuration, or the path given", () => {
    const bad = { name: "rc", virtual_hosts: [{ domains: ["*"] }] };
    try {
      parseRouteConfiguration(bad);
      assert.fail("expected a ConfigError");
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.source, "route configuration rc");
      assert.equal(error.code, "TRELLIS_CONFIG_INVALID");
      assert.deepEqual(error.issues, [{ path: "virtual_hosts[0].name", message: "required" }]);
    }
    assert.deepEqual(
      issuesOf(() => parseRouteConfiguration(bad, "rds[0]")),
      [{ path: "rds[0].virtual_hosts[0].name", message: "required" }],
    );
  });

  test("readRouteConfiguration collects into a context without throwing", () => {
    const ctx = new ParseContext();
    const parsed = readRouteConfiguration(ctx, config([{ match: { prefix: "/" }, route: { cluster: "x" } }]), "rc");
    assert.equal(parsed.virtualHosts.length, 1);
    assert.equal(ctx.failed, false);
    assert.deepEqual(ctx.clusterReferences, [{ path: "rc.virtual_hosts[0].routes[0].route.cluster", cluster: "x" }]);
  });
});

describe("routes", () => {
  test("names default to <vhost>/<index>", () => {
    const parsed = parseRouteConfiguration(
      config([
        { match: { prefix: "/a" }, route: { cluster: "c" } },
        { name: "named", match: { prefix: "/b" }, route: { cluster: "c" } },
        { match: { prefix: "/" }, route: { cluster: "c" } },
      ]),
    );
    assert.deepEqual(
      parsed.virtualHosts[0].routes.map((r) => r.name),
      ["vh/0", "named", "vh/2"],
    );
  });

  test("path specifiers and match defaults", () => {
    assert.deepEqual(parseRoute({ match: { prefix: "/api" }, route: { cluster: "c" } }).match, {
      path: { kind: "prefix", value: "/api" },
      caseSensitive: true,
      headers: [],
      queryParameters: [],
      grpc: false,
    });
    const exact = parseRoute({ match: { path: "/x", case_sensitive: false, grpc: {} }, route: { cluster: "c" } }).match;
    assert.deepEqual(exact.path, { kind: "path", value: "/x" });
    assert.equal(exact.caseSensitive, false);
    assert.equal(exact.grpc, true);
    const regex = parseRoute({
      match: { safeRegex: { regex: "^/v[12]/.*" }, caseSensitive: { value: false } },
      route: { cluster: "c" },
    }).match;
    assert.deepEqual(regex.path, { kind: "safe_regex", regex: "^/v[12]/.*" });
    assert.equal(regex.caseSensitive, false);
    const separated = parseRoute({ match: { path_separated_prefix: "/api/v1" }, route: { cluster: "c" } }).match;
    assert.deepEqual(separated.path, { kind: "path_separated_prefix", value: "/api/v1" });
    const connect = parseRoute({ match: { connect_matcher: {} }, route: { cluster: "c" } }).match;
    assert.deepEqual(connect.path, { kind: "connect" });
  });

  test("path specifier errors", () => {
    const routes = [
      { match: {}, route: { cluster: "c" } },
      { match: { prefix: "/", path: "/a" }, route: { cluster: "c" } },
      { match: { safe_regex: { regex: "[" } }, route: { cluster: "c" } },
      { match: { path_separated_prefix: "api" }, route: { cluster: "c" } },
      { match: { path_separated_prefix: "/api/" }, route: { cluster: "c" } },
      { match: { path_separated_prefix: "/a?b" }, route: { cluster: "c" } },
      { match: { prefix: "/", grpc: true }, route: { cluster: "c" } },
      { match: { prefix: "/", runtime_fraction: {} }, route: { cluster: "c" } },
      { route: { cluster: "c" } },
      { match: { safe_regex: {} }, route: { cluster: "c" } },
      { match: { connect_matcher: { strict: true } }, route: { cluster: "c" } },
    ];
    const expectSeparated = 'expected a path that starts with "/", does not end with "/" and has no ? or #';
    const R = "virtual_hosts[0].routes";
    assertIssues(
      () => parseRouteConfiguration(config(routes)),
      [
        [`${R}[0].match`, "one of prefix, path, safe_regex, path_separated_prefix, connect_matcher is required"],
        [
          `${R}[1].match`,
          "only one of prefix, path, safe_regex, path_separated_prefix, connect_matcher may be set, got prefix and path",
        ],
        [`${R}[2].match.safe_regex.regex`, /^invalid regex "\[": /],
        [`${R}[3].match.path_separated_prefix`, `${expectSeparated}, got "api"`],
        [`${R}[4].match.path_separated_prefix`, `${expectSeparated}, got "/api/"`],
        [`${R}[5].match.path_separated_prefix`, `${expectSeparated}, got "/a?b"`],
        [`${R}[6].match.grpc`, "expected an object, got true"],
        [`${R}[7].match.runtime_fraction`, '"runtime_fraction" is not supported yet'],
        [`${R}[8].match`, "required"],
        [`${R}[9].match.safe_regex.regex`, "required"],
        [`${R}[10].match.connect_matcher.strict`, 'unknown field "strict"'],
      ],
    );
  });

  test("exactly one action; other Envoy actions are refused", () => {
    const R = "virtual_hosts[0].routes";
    assertIssues(
      () =>
        parseRouteConfiguration(
          config([
            { match: { prefix: "/" } },
            { match: { prefix: "/" }, route: { cluster: "c" }, direct_response: { status: 200 } },
            { match: { prefix: "/" }, filter_action: {} },
          ]),
        ),
      [
        [`${R}[0]`, "one of route, redirect, direct_response is required"],
        [`${R}[1]`, "only one of route, redirect, direct_response may be set, got route and direct_response"],
        [`${R}[2].filter_action`, '"filter_action" is not supported yet'],
        [`${R}[2]`, "one of route, redirect, direct_response is required"],
      ],
    );
  });

  test("route-level header edits", () => {
    const route = parseRoute({
      match: { prefix: "/" },
      route: { cluster: "c" },
      response_headers_to_add: [{ header: { key: "x-r", value: "1" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
      requestHeadersToRemove: ["x-drop"],
    });
    assert.deepEqual(route.responseHeadersToAdd, [
      { key: "x-r", value: "1", appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" },
    ]);
    assert.deepEqual(route.requestHeadersToRemove, ["x-drop"]);
  });
});

describe("route action", () => {
  test("defaults", () => {
    assert.deepEqual(routeAction({ cluster: "backend" }), {
      kind: "route",
      cluster: "backend",
      weightedClusters: undefined,
      prefixRewrite: undefined,
      regexRewrite: undefined,
      hostRewriteLiteral: undefined,
      timeoutMs: 15_000,
      idleTimeoutMs: undefined,
      hashPolicy: [],
      retryPolicy: undefined,
      requestMirrorPolicies: [],
      maxStreamDuration: { maxStreamDurationMs: 0, grpcTimeoutHeaderMaxMs: 0, grpcTimeoutHeaderOffsetMs: 0 },
      perRequestBufferLimitBytes: undefined,
      upgradeOverrides: {},
      extensions: {},
    });
  });

  test("every field", () => {
    const action = routeAction({
      cluster: "backend",
      prefix_rewrite: "/v2/",
      host_rewrite_literal: "backend.internal",
      timeout: "0s",
      idle_timeout: "30s",
      upgrade_configs: [{ upgrade_type: "WebSocket" }, { upgradeType: "CONNECT", enabled: false }],
      hash_policy: [
        { header: { header_name: "X-User" } },
        { cookie: { name: "sticky", ttl: "3600s", path: "/" }, terminal: true },
        { cookie: { name: "plain" } },
        { connection_properties: { source_ip: true } },
        { connection_properties: { source_ip: false } },
        { query_parameter: { name: "u" } },
      ],
    });
    assert.equal(action.prefixRewrite, "/v2/");
    assert.equal(action.hostRewriteLiteral, "backend.internal");
    assert.equal(action.timeoutMs, 0);
    assert.equal(action.idleTimeoutMs, 30_000);
    assert.deepEqual(action.upgradeOverrides, { websocket: true, connect: false });
    assert.deepEqual(action.hashPolicy, [
      { kind: "header", headerName: "x-user", terminal: false },
      { kind: "cookie", name: "sticky", ttlMs: 3_600_000, path: "/", terminal: true },
      { kind: "cookie", name: "plain", ttlMs: undefined, path: "", terminal: false },
      { kind: "source_ip", terminal: false },
      { kind: "query_parameter", name: "u", terminal: false },
    ]);
    const regex = routeAction({
      cluster: "c",
      regex_rewrite: { pattern: { regex: "^/a/(.*)$" }, substitution: "/b/\\1" },
    });
    assert.deepEqual(regex.regexRewrite, { regex: "^/a/(.*)$", substitution: "/b/\\1" });
  });

  test("upgrade_configs connect_config: a CONNECT terminated by the proxy; only on CONNECT, its options refused", () => {
    const terminated = routeAction(
      { cluster: "c", upgrade_configs: [{ upgrade_type: "CONNECT", connect_config: {} }] },
      { connect_matcher: {} },
    );
    assert.equal(terminated.connectTerminate, true);
    assert.deepEqual(terminated.upgradeOverrides, { connect: true });
    const forwarded = routeAction(
      { cluster: "c", upgrade_configs: [{ upgrade_type: "CONNECT" }] },
      { connect_matcher: {} },
    );
    assert.equal(forwarded.connectTerminate, undefined);
    const R = "virtual_hosts[0].routes[0].route.upgrade_configs";
    assertIssues(
      () =>
        parseRouteConfiguration({
          name: "rc",
          virtual_hosts: [
            {
              name: "v",
              domains: ["*"],
              routes: [
                {
                  match: { prefix: "/" },
                  route: {
                    cluster: "c",
                    upgrade_configs: [
                      { upgrade_type: "websocket", connect_config: {} },
                      { upgrade_type: "CONNECT", connect_config: { allow_post: true } },
                    ],
                  },
                },
              ],
            },
          ],
        }),
      [
        [`${R}[0].connect_config`, 'only an upgrade_type CONNECT takes one, not "websocket"'],
        [`${R}[1].connect_config.allow_post`, '"allow_post" is not supported yet'],
      ],
    );
  });

  test("weighted clusters with per-cluster header edits and total_weight", () => {
    const action = routeAction({
      weighted_clusters: {
        total_weight: 100,
        clusters: [
          { name: "v1", weight: 75, response_headers_to_add: [{ header: { key: "x-v", value: "1" } }] },
          { name: "v2", weight: { value: 25 }, requestHeadersToRemove: ["x-a"] },
        ],
      },
    });
    assert.equal(action.cluster, undefined);
    assert.deepEqual(action.weightedClusters, [
      {
        name: "v1",
        weight: 75,
        requestHeadersToAdd: [],
        requestHeadersToRemove: [],
        responseHeadersToAdd: [{ key: "x-v", value: "1", appendAction: "APPEND_IF_EXISTS_OR_ADD" }],
        responseHeadersToRemove: [],
      },
      {
        name: "v2",
        weight: 25,
        requestHeadersToAdd: [],
        requestHeadersToRemove: ["x-a"],
        responseHeadersToAdd: [],
        responseHeadersToRemove: [],
      },
    ]);
  });

  test("typed_per_filter_config is read; route action fields with an effect not implemented are refused", () => {
    const route = parseRoute({
      match: { prefix: "/" },
      typed_per_filter_config: { "envoy.filters.http.fault": { "@type": "x" } },
      decorator: { operation: "op" },
      tracing: {},
      route: { cluster: "c" },
    });
    assert.deepEqual(route.typedPerFilterConfig, {
      "envoy.filters.http.fault": { typeUrl: "x", config: {}, disabled: false },
    });
    assert.deepEqual((route.action as RouteAction).extensions, {});
    const refused = [
      ["retry_policy_typed_config", {}],
      ["cors", {}],
      ["rate_limits", []],
      ["include_vh_rate_limits", true],
      ["internal_redirect_policy", {}],
      ["hedge_policy", { hedge_on_per_try_timeout: true }],
      ["metadata_match", { filter_metadata: { "envoy.lb": { version: "v1" } } }],
    ] as const;
    for (const [field, value] of refused) {
      assertIssues(
        () => parseRoute({ match: { prefix: "/" }, route: { cluster: "c", [field]: value } }),
        [[`virtual_hosts[0].routes[0].route.${field}`, `"${field}" is not supported yet`]],
      );
    }
    assertIssues(
      () =>
        parseRoute({
          match: { prefix: "/" },
          route: { weighted_clusters: { clusters: [{ name: "a", weight: 1, metadata_match: {} }] } },
        }),
      [
        [
          "virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0].metadata_match",
          '"metadata_match" is not supported yet',
        ],
      ],
    );
  });

  test("retry policy: every field, Envoy's defaults, the virtual host's policy for routes without one", () => {
    const full = routeAction({
      cluster: "c",
      retry_policy: {
        retry_on: "5xx, connect-failure,retriable-status-codes,unavailable",
        num_retries: 3,
        per_try_timeout: "0.25s",
        per_try_idle_timeout: "1s",
        retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts" }],
        host_selection_retry_max_attempts: 5,
        retriable_status_codes: [503, 409],
        retry_back_off: { base_interval: "0.1s", max_interval: "2s" },
        retriable_headers: [{ name: "x-retry", present_match: true }],
        retriable_request_headers: [{ name: ":method", string_match: { exact: "GET" } }],
      },
    });
    assert.deepEqual(full.retryPolicy, {
      retryOn: ["5xx", "connect-failure", "retriable-status-codes", "unavailable"],
      numRetries: 3,
      perTryTimeoutMs: 250,
      perTryIdleTimeoutMs: 1000,
      previousHostsPredicate: true,
      hostSelectionRetryMaxAttempts: 5,
      retriableStatusCodes: [503, 409],
      backOff: { baseIntervalMs: 100, maxIntervalMs: 2000 },
      retriableHeaders: [
        { name: "x-retry", match: { kind: "present", present: true }, invertMatch: false, treatMissingAsEmpty: false },
      ],
      retriableRequestHeaders: [
        {
          name: ":method",
          match: { kind: "exact", value: "GET", ignoreCase: false },
          invertMatch: false,
          treatMissingAsEmpty: false,
        },
      ],
    });
    const defaults = routeAction({ cluster: "c", retry_policy: { retry_on: "reset" } }).retryPolicy!;
    assert.equal(defaults.numRetries, 1);
    assert.deepEqual(defaults.backOff, { baseIntervalMs: 25, maxIntervalMs: 250 });
    assert.equal(defaults.perTryTimeoutMs, 0);
    assert.equal(defaults.hostSelectionRetryMaxAttempts, 1);
    const rc = parseRouteConfiguration({
      virtual_hosts: [
        {
          name: "vh",
          domains: ["*"],
          retry_policy: { retry_on: "5xx", num_retries: 2 },
          routes: [
            { match: { prefix: "/own" }, route: { cluster: "c", retry_policy: { retry_on: "reset", num_retries: 7 } } },
            { match: { prefix: "/" }, route: { cluster: "c" } },
          ],
        },
      ],
    });
    const [own, inherited] = rc.virtualHosts[0].routes.map((r) => (r.action as RouteAction).retryPolicy!);
    assert.deepEqual([own.retryOn, own.numRetries], [["reset"], 7]);
    assert.deepEqual([inherited.retryOn, inherited.numRetries], [["5xx"], 2]);
  });

  test("mirror policies, max_stream_duration (and the deprecated gRPC timeout fields), per-request buffer limit", () => {
    const route = parseRoute({
      match: { prefix: "/" },
      per_request_buffer_limit_bytes: 4096,
      route: {
        cluster: "c",
        request_mirror_policies: [
          { cluster: "shadow", runtime_fraction: { default_value: { numerator: 25 } } },
          { cluster: "all", disable_shadow_host_suffix_append: true },
          { cluster: "tiny", runtime_fraction: { default_value: { numerator: 5, denominator: "TEN_THOUSAND" } } },
        ],
        max_stream_duration: { max_stream_duration: "60s", grpc_timeout_header_max: "5s" },
        grpc_timeout_offset: "0.01s",
      },
    });
    const action = route.action as RouteAction;
    assert.deepEqual(action.requestMirrorPolicies, [
      { cluster: "shadow", fraction: 0.25, disableShadowHostSuffixAppend: false },
      { cluster: "all", fraction: 1, disableShadowHostSuffixAppend: true },
      { cluster: "tiny", fraction: 0.0005, disableShadowHostSuffixAppend: false },
    ]);
    assert.deepEqual(action.maxStreamDuration, {
      maxStreamDurationMs: 60_000,
      grpcTimeoutHeaderMaxMs: 5000,
      grpcTimeoutHeaderOffsetMs: 10,
    });
    assert.equal(action.perRequestBufferLimitBytes, 4096);
  });

  test("retry_priority previous_priorities: update_frequency required and at least 1", () => {
    const retry = (retry_priority: unknown) =>
      config([{ match: { prefix: "/" }, route: { cluster: "c", retry_policy: { retry_on: "5xx", retry_priority } } }]);
    const TYPE = "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig";
    const route = (c: unknown) =>
      (parseRouteConfiguration(c).virtualHosts[0]!.routes[0]!.action as { retryPolicy?: RetryPolicy }).retryPolicy;
    assert.deepEqual(
      route(
        retry({
          name: "envoy.retry_priorities.previous_priorities",
          typed_config: { "@type": TYPE, update_frequency: 2 },
        }),
      )?.previousPriorities,
      { updateFrequency: 2 },
    );
    const A = "virtual_hosts[0].routes[0].route.retry_policy.retry_priority";
    assertIssues(
      () => parseRouteConfiguration(retry({ name: "envoy.retry_priorities.previous_priorities" })),
      [[`${A}.typed_config`, "required: a PreviousPrioritiesConfig with update_frequency"]],
    );
    assertIssues(
      () => parseRouteConfiguration(retry({ typed_config: { "@type": TYPE, update_frequency: 0 } })),
      [[`${A}.typed_config.update_frequency`, "expected an integer 1-4294967295, got 0"]],
    );
  });

  test("retry and mirror errors name the field", () => {
    const A = "virtual_hosts[0].routes[0].route";
    assertIssues(
      () =>
        parseRouteConfiguration(
          config([
            {
              match: { prefix: "/" },
              route: {
                cluster: "c",
                retry_policy: {
                  retry_on: "5xx,sometimes",
                  retriable_status_codes: [200, 999],
                  retry_back_off: { max_interval: "1s" },
                  retry_host_predicate: [{ name: "envoy.retry_host_predicates.omit_canary_hosts" }],
                  retry_priority: { name: "envoy.retry_priorities.other_priority" },
                },
                request_mirror_policies: [{ runtime_fraction: { default_value: { denominator: "BILLION" } } }],
              },
            },
          ]),
        ),
      [
        [`${A}.retry_policy.retry_back_off.base_interval`, "required"],
        [
          `${A}.retry_policy.retry_on`,
          'unknown retry condition "sometimes"; supported: 5xx, gateway-error, reset, reset-before-request, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, retriable-headers, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable, envoy-ratelimited',
        ],
        [
          `${A}.retry_policy.retry_host_predicate[0]`,
          'retry host predicate "envoy.retry_host_predicates.omit_canary_hosts" is not supported; supported: envoy.retry_host_predicates.previous_hosts',
        ],
        [`${A}.retry_policy.retriable_status_codes[1]`, "expected an HTTP status code 100-599, got 999"],
        [
          `${A}.retry_policy.retry_priority.name`,
          'retry priority "envoy.retry_priorities.other_priority" is not supported; supported: envoy.retry_priorities.previous_priorities',
        ],
        [`${A}.request_mirror_policies[0].cluster`, "required"],
        [
          `${A}.request_mirror_policies[0].runtime_fraction.default_value.denominator`,
          'expected one of HUNDRED, TEN_THOUSAND, MILLION, got "BILLION"',
        ],
      ],
    );
  });

  test("errors", () => {
    const A = "virtual_hosts[0].routes";
    assertIssues(
      () =>
        parseRouteConfiguration(
          config([
            { match: { prefix: "/" }, route: {} },
            {
              match: { prefix: "/" },
              route: { cluster: "a", weighted_clusters: { clusters: [{ name: "b", weight: 1 }] } },
            },
            { match: { prefix: "/" }, route: { weighted_clusters: { clusters: [] } } },
            {
              match: { prefix: "/" },
              route: { weighted_clusters: { clusters: [{ name: "a", weight: 0 }, { weight: 0 }] } },
            },
            {
              match: { prefix: "/" },
              route: { weighted_clusters: { total_weight: 10, clusters: [{ name: "a", weight: 3 }] } },
            },
            { match: { prefix: "/" }, route: { cluster: "" } },
            { match: { prefix: "/" }, route: { cluster: "c", timeout: "-1s", idle_timeout: "forever" } },
            {
              match: { prefix: "/" },
              route: { cluster: "c", prefix_rewrite: "/", regex_rewrite: { pattern: { regex: "(" } } },
            },
            {
              match: { prefix: "/" },
              route: {
                cluster: "c",
                hash_policy: [{}, { header: {}, cookie: { name: "x" } }, { filter_state: { key: "k" } }],
              },
            },
            { match: { prefix: "/" }, route: { cluster: "c", cluster_header: "x-cluster", hedge_policy: {} } },
          ]),
        ),
      [
        [`${A}[0].route`, "one of cluster, weighted_clusters is required"],
        [`${A}[1].route`, "only one of cluster, weighted_clusters may be set, got cluster and weighted_clusters"],
        [`${A}[2].route.weighted_clusters.clusters`, "expected at least one cluster"],
        [`${A}[3].route.weighted_clusters.clusters[1].name`, "required"],
        [`${A}[3].route.weighted_clusters.clusters`, "the weights must add up to more than 0"],
        [`${A}[4].route.weighted_clusters.total_weight`, "is 10 but the weights add up to 3"],
        [`${A}[5].route.cluster`, "must not be empty"],
        [`${A}[6].route.timeout`, 'expected a duration that is not negative, got "-1s"'],
        [`${A}[6].route.idle_timeout`, 'expected a duration like "1.5s" or {seconds, nanos}, got "forever"'],
        [`${A}[7].route`, "only one of prefix_rewrite, regex_rewrite may be set"],
        [`${A}[7].route.regex_rewrite.pattern.regex`, /^invalid regex "\(": /],
        [`${A}[8].route.hash_policy[0]`, "one of header, cookie, connection_properties, query_parameter is required"],
        [
          `${A}[8].route.hash_policy[1]`,
          "only one of header, cookie, connection_properties, query_parameter may be set, got header and cookie",
        ],
        [`${A}[8].route.hash_policy[1].header.header_name`, "required"],
        [`${A}[8].route.hash_policy[2].filter_state`, '"filter_state" is not supported yet'],
        [`${A}[8].route.hash_policy[2]`, "one of header, cookie, connection_properties, query_parameter is required"],
        [`${A}[9].route.cluster_header`, '"cluster_header" is not supported yet'],
        [`${A}[9].route.hedge_policy`, '"hedge_policy" is not supported yet'],
      ],
    );
  });
});

describe("redirect", () => {
  function redirect(value: unknown): RedirectAction {
    const action = parseRoute({ match: { prefix: "/" }, redirect: value }).action;
    assert.equal(action.kind, "redirect");
    return action as RedirectAction;
  }

  test("defaults", () => {
    assert.deepEqual(redirect({}), {
      kind: "redirect",
      schemeRedirect: undefined,
      httpsRedirect: false,
      hostRedirect: undefined,
      portRedirect: undefined,
      pathRedirect: undefined,
      prefixRewrite: undefined,
      responseCode: 301,
      stripQuery: false,
    });
  });

  test("every field; response codes by name, number and enum number", () => {
    assert.deepEqual(
      redirect({
        scheme_redirect: "HTTPS",
        host_redirect: "b.com",
        port_redirect: 8443,
        path_redirect: "/n",
        response_code: "SEE_OTHER",
        strip_query: true,
      }),
      {
        kind: "redirect",
        schemeRedirect: "https",
        httpsRedirect: false,
        hostRedirect: "b.com",
        portRedirect: 8443,
        pathRedirect: "/n",
        prefixRewrite: undefined,
        responseCode: 303,
        stripQuery: true,
      },
    );
    assert.equal(redirect({ https_redirect: true }).httpsRedirect, true);
    assert.equal(redirect({ prefix_rewrite: "/x/" }).prefixRewrite, "/x/");
    const codes = ["MOVED_PERMANENTLY", "FOUND", "SEE_OTHER", "TEMPORARY_REDIRECT", "PERMANENT_REDIRECT"];
    assert.deepEqual(
      codes.map((c) => redirect({ response_code: c }).responseCode),
      [301, 302, 303, 307, 308],
    );
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((c) => redirect({ responseCode: c }).responseCode),
      [301, 302, 303, 307, 308],
    );
    assert.deepEqual(
      [301, 302, 303, 307, 308].map((c) => redirect({ response_code: c }).responseCode),
      [301, 302, 303, 307, 308],
    );
  });

  test("errors", () => {
    assertIssues(
      () =>
        redirect({
          https_redirect: true,
          scheme_redirect: "http",
          path_redirect: "/",
          prefix_rewrite: "/",
          response_code: 304,
          port_redirect: 70000,
          regex_rewrite: {},
        }),
      [
        [`${R0}.redirect.regex_rewrite`, '"regex_rewrite" is not supported yet'],
        [
          `${R0}.redirect`,
          "only one of https_redirect, scheme_redirect may be set, got https_redirect and scheme_redirect",
        ],
        [
          `${R0}.redirect`,
          "only one of path_redirect, prefix_rewrite may be set, got path_redirect and prefix_rewrite",
        ],
        [`${R0}.redirect.port_redirect`, "expected an integer 0-65535, got 70000"],
        [
          `${R0}.redirect.response_code`,
          "expected one of MOVED_PERMANENTLY, FOUND, SEE_OTHER, TEMPORARY_REDIRECT, PERMANENT_REDIRECT (or 301, 302, 303, 307, 308), got 304",
        ],
      ],
    );
  });
});

describe("direct_response", () => {
  function direct(value: unknown): DirectResponseAction {
    const action = parseRoute({ match: { prefix: "/" }, direct_response: value }).action;
    assert.equal(action.kind, "direct_response");
    return action as DirectResponseAction;
  }

  test("status and the body forms", () => {
    assert.deepEqual(direct({ status: 204 }), { kind: "direct_response", status: 204, body: undefined });
    assert.equal(direct({ status: 200, body: { inline_string: "hello" } }).body, "hello");
    assert.equal(
      direct({ status: 200, body: { inlineBytes: Buffer.from("bytes ✓").toString("base64") } }).body,
      "bytes ✓",
    );
  });

  test("errors: status missing or out of range, filename, bad base64, two bodies", () => {
    const D = "virtual_hosts[0].routes";
    assertIssues(
      () =>
        parseRouteConfiguration(
          config([
            { match: { prefix: "/" }, direct_response: {} },
            { match: { prefix: "/" }, direct_response: { status: 99 } },
            { match: { prefix: "/" }, direct_response: { status: 600 } },
            { match: { prefix: "/" }, direct_response: { status: 200, body: { filename: "/etc/motd" } } },
            { match: { prefix: "/" }, direct_response: { status: 200, body: { inline_bytes: "not base64!" } } },
            {
              match: { prefix: "/" },
              direct_response: { status: 200, body: { inline_string: "a", inline_bytes: "YQ==" } },
            },
            { match: { prefix: "/" }, direct_response: { status: 200, body: { environment_variable: "X" } } },
          ]),
        ),
      [
        [`${D}[0].direct_response.status`, "required"],
        [`${D}[1].direct_response.status`, "expected an integer 100-599, got 99"],
        [`${D}[2].direct_response.status`, "expected an integer 100-599, got 600"],
        [`${D}[3].direct_response.body.filename`, "filename not supported (use inline_string or inline_bytes)"],
        [`${D}[4].direct_response.body.inline_bytes`, 'expected base64, got "not base64!"'],
        [
          `${D}[5].direct_response.body`,
          "only one of inline_string, inline_bytes, filename may be set, got inline_string and inline_bytes",
        ],
        [`${D}[6].direct_response.body.environment_variable`, '"environment_variable" is not supported yet'],
        [`${D}[6].direct_response.body`, "one of inline_string, inline_bytes, filename is required"],
      ],
    );
  });
});
