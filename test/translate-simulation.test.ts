// Simulation: translate a world for a proxy, compile the output's route configuration with the proxy's own router
// (compileRouteTable, with the proxy's filter registry for per-route fault configs) and send synthetic requests —
// which virtual host, route and cluster each one reaches, and how a weighted split falls. No sockets.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseRouteConfiguration } from "../src/api/xds/parse/index.ts";
import type { Json } from "../src/control/translate/envoy.ts";
import { loadCase, TESTDATA } from "../src/control/translate/testing.ts";
import { loadResources } from "../src/api/resources/load.ts";
import { translate } from "../src/control/translate/translate.ts";
import "../src/proxy/filters/builtin.ts";
import { compilePerRouteFilterConfig } from "../src/proxy/http/filters.ts";
import type { CompiledRoute } from "../src/proxy/router/compiled-route.ts";
import { compileRouteTable } from "../src/proxy/router/route-table.ts";
import type { RouteTable } from "../src/proxy/router/route-table.ts";
import { request, seeded } from "../src/proxy/router/testing.ts";

const REVIEWS = "reviews.default.svc.cluster.local";
const RATINGS = "ratings.default.svc.cluster.local";
const reviews = (subset: string): string => `outbound|9080|${subset}|${REVIEWS}`;

function table(file: string, seed = 1): { table: RouteTable; result: ReturnType<typeof translate> } {
  const { world, proxy } = loadCase(file);
  const result = translate(world, proxy);
  const config = result.routes.find((r: Json) => r.name === "outbound-http");
  assert.ok(config, "outbound-http route configuration");
  const typed = parseRouteConfiguration(config);
  return {
    table: compileRouteTable(typed, { random: seeded(seed), compileFilterConfig: compilePerRouteFilterConfig }),
    result,
  };
}

function routed(t: RouteTable, authority: string, path: string, headers: Record<string, string> = {}): CompiledRoute {
  const r = t.route(request(authority, path, headers));
  assert.notEqual(r.kind, "miss", `expected a route for ${authority}${path}`);
  return r as CompiledRoute;
}

function split(t: RouteTable, authority: string, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = routed(t, authority, `/r/${i}`).pickCluster().name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** |observed − n·p| within 5 standard deviations of Binomial(n, p). */
function withinBinomial(observed: number, n: number, p: number): boolean {
  return Math.abs(observed - n * p) <= 5 * Math.sqrt(n * p * (1 - p));
}

describe("bookinfo", () => {
  test("without rules every name of a service reaches its default cluster", () => {
    const { table: t } = table("bookinfo-no-rules.yaml");
    for (const authority of ["reviews", "reviews:9080", "reviews.default", `${REVIEWS}:9080`, REVIEWS]) {
      const r = routed(t, authority, "/reviews/1");
      assert.equal(r.virtualHostName, `${REVIEWS}:9080`);
      assert.equal(r.pickCluster().name, reviews(""));
      assert.ok(r.retryPolicy, "Istio's default retries");
      assert.equal(r.timeoutMs, 0);
    }
    assert.equal(routed(t, "example.com", "/").pickCluster().name, "PassthroughCluster");
  });

  test("ALLOW_ANY: a request naming the outbound listener itself is refused, not forwarded back to it (a loop)", () => {
    const { table: t } = table("bookinfo-no-rules.yaml");
    for (const authority of ["127.0.0.1:15001", "localhost:15001"]) {
      const r = routed(t, authority, "/");
      assert.equal(r.kind, "direct_response", authority);
      assert.equal(r.directStatus, 502);
    }
    assert.equal(routed(t, "127.0.0.1:8080", "/").pickCluster().name, "PassthroughCluster");
  });

  test("all-v1 sends every service to its v1 subset", () => {
    const { table: t } = table("bookinfo-all-v1.yaml");
    assert.equal(routed(t, "reviews:9080", "/").pickCluster().name, reviews("v1"));
    assert.equal(routed(t, "ratings", "/ratings/0").pickCluster().name, `outbound|9080|v1|${RATINGS}`);
  });

  test("50/50 between v1 and v3 falls within binomial bounds", () => {
    const { table: t } = table("bookinfo-reviews-50-v3.yaml", 42);
    const n = 4000;
    const counts = split(t, "reviews:9080", n);
    assert.deepEqual([...counts.keys()].sort(), [reviews("v1"), reviews("v3")]);
    assert.ok(withinBinomial(counts.get(reviews("v1"))!, n, 0.5), JSON.stringify([...counts]));
  });

  test("relative weights (Istio): 1 and 3 are accepted and split 25/75 within binomial bounds", () => {
    const raw = parseYaml(readFileSync(join(TESTDATA, "relative-weights.yaml"), "utf8")) as { resources: unknown[] };
    // The store's reader takes them as written (it used to ask for a sum of 100).
    const { resources } = loadResources(
      JSON.stringify({ apiVersion: "v1", kind: "List", items: raw.resources }),
      "relative-weights.yaml",
    );
    assert.equal(resources.length, 1);
    const { table: t, result } = table("relative-weights.yaml", 7);
    const config = result.routes.find((r: Json) => r.name === "outbound-http")!;
    const vhost = (config.virtual_hosts as Json[]).find((v) => v.name === `${REVIEWS}:9080`)!;
    const action = (vhost.routes as Json[])[0]!.route as Json;
    assert.deepEqual(
      ((action.weighted_clusters as Json).clusters as Json[]).map((c) => [c.name, c.weight]),
      [
        [reviews("v1"), 1],
        [reviews("v3"), 3],
      ],
    );
    const n = 4000;
    const counts = split(t, "reviews:9080", n);
    assert.deepEqual([...counts.keys()].sort(), [reviews("v1"), reviews("v3")]);
    assert.ok(withinBinomial(counts.get(reviews("v1"))!, n, 0.25), JSON.stringify([...counts]));
    assert.ok(withinBinomial(counts.get(reviews("v3"))!, n, 0.75), JSON.stringify([...counts]));
  });

  test("end-user: jason reaches v2, everyone else v1", () => {
    const { table: t } = table("bookinfo-jason-v2.yaml");
    assert.equal(routed(t, "reviews:9080", "/reviews/0", { "end-user": "jason" }).pickCluster().name, reviews("v2"));
    assert.equal(routed(t, "reviews:9080", "/reviews/0", { "end-user": "alice" }).pickCluster().name, reviews("v1"));
    assert.equal(routed(t, "reviews:9080", "/reviews/0").pickCluster().name, reviews("v1"));
  });

  test("the delay and abort faults sit on jason's ratings route only", () => {
    for (const file of ["bookinfo-ratings-delay.yaml", "bookinfo-ratings-abort.yaml"]) {
      const { table: t } = table(file);
      const jason = routed(t, "ratings:9080", "/ratings/0", { "end-user": "jason" });
      const other = routed(t, "ratings:9080", "/ratings/0");
      assert.ok(jason.perFilterConfig("envoy.filters.http.fault") !== undefined, `${file}: fault on jason's route`);
      assert.equal(other.perFilterConfig("envoy.filters.http.fault"), undefined);
      assert.equal(jason.pickCluster().name, `outbound|9080|v1|${RATINGS}`);
    }
  });
});

describe("routing features", () => {
  test("retries and timeouts as written; attempts 0 means no retries", () => {
    const { table: t } = table("retries-timeouts.yaml");
    const slow = routed(t, "reviews", "/slow/x");
    assert.equal(slow.timeoutMs, 500);
    assert.equal(slow.retryPolicy, undefined);
    const rest = routed(t, "reviews", "/other");
    assert.equal(rest.timeoutMs, 10_000);
    assert.ok(rest.retryPolicy);
  });

  test("match kinds: everything must hold for the admin route; weighted route by regex", () => {
    const { table: t } = table("match-kinds-and-headers.yaml", 3);
    const admin = {
      "x-canary": "1",
      "x-team": "web-ui",
      "x-id": "42",
      "x-env": "staging",
    };
    const hit = t.route(request("reviews:9080", "/ADMIN/users?debug=1&trace", admin, "POST"));
    assert.equal(hit.kind === "miss" ? "miss" : hit.pickCluster().name, reviews("v2"));
    const blocked = t.route(
      request("reviews:9080", "/admin/users?debug=1&trace", { ...admin, "x-block": "y" }, "POST"),
    );
    assert.equal(blocked.kind, "miss");
    const wrongMethod = t.route(request("reviews:9080", "/admin/users?debug=1&trace", admin, "GET"));
    assert.equal(wrongMethod.kind, "miss");
    const weighted = routed(t, "reviews", "/reviews/7");
    assert.deepEqual(
      weighted.clusters.map((c) => c.name),
      [reviews("v1"), reviews("v3")],
    );
  });

  test("sourceLabels: only the routes that select this proxy are present", () => {
    const { table: t } = table("source-labels.yaml");
    assert.equal(routed(t, "reviews", "/").pickCluster().name, reviews("v2"));
    const vh = t.virtualHost("reviews")!;
    assert.deepEqual(
      vh.routes.map((r) => r.pickCluster().name),
      [reviews("v2"), reviews("v3"), reviews("v1")],
    );
  });

  test("rewrite, redirect and direct response", () => {
    const { table: t } = table("rewrite-redirect-direct.yaml");
    const legacy = routed(t, "details", "/api/v1/items");
    assert.equal(legacy.name, "legacy.api");
    const req = request("details", "/api/v1/items?x=1");
    legacy.rewrite(req);
    assert.equal(req.path, "/v2/items?x=1");
    assert.equal(req.authority, "details-v2.internal");
    const old = request("details", "/old?q");
    routed(t, "details", "/old").rewrite(old);
    assert.equal(old.path, "/new?q");
    const moved = routed(t, "details", "/moved/a");
    assert.equal(moved.kind, "redirect");
    assert.equal(moved.redirectStatus, 302);
    const health = routed(t, "details", "/health");
    assert.equal(health.kind, "direct_response");
    assert.equal(health.directStatus, 200);
  });

  test("REGISTRY_ONLY answers unknown hosts with 502; known hosts still route", () => {
    const { table: t } = table("registry-only.yaml");
    const blocked = routed(t, "example.com", "/");
    assert.equal(blocked.kind, "direct_response");
    assert.equal(blocked.directStatus, 502);
    assert.equal(routed(t, "reviews", "/").pickCluster().name, reviews(""));
  });

  test("Sidecar scoping: services outside the egress hosts have no virtual host", () => {
    const { table: t } = table("sidecar-registry-only.yaml");
    assert.equal(routed(t, "reviews", "/").pickCluster().name, reviews(""));
    assert.equal(routed(t, "ratings", "/").kind, "direct_response");
  });

  test("consistent hash: the route hashes on the DestinationRule's header", () => {
    const { table: t } = table("consistent-hash.yaml");
    const r = routed(t, "reviews", "/anything");
    assert.equal(r.pickCluster().name, reviews(""));
    const h1 = r.hash(request("reviews", "/", { "x-user": "alice" }), {
      remoteAddress: "10.0.0.1",
      remotePort: 1,
    } as never);
    const h2 = r.hash(request("reviews", "/", { "x-user": "alice" }), {
      remoteAddress: "10.0.0.2",
      remotePort: 2,
    } as never);
    assert.notEqual(h1, undefined);
    assert.equal(h1, h2);
  });

  test("tcp weighted route splits 80/20 in the listener's tcp_proxy", () => {
    const { result } = table("tcp-weighted.yaml");
    const l = result.listeners.find((x) => x.name === "outbound-tcp-9000")!;
    const config = ((l.filter_chains as Json[])[0]!.filters as Json[])[0]!.typed_config as Json;
    assert.deepEqual((config.weighted_clusters as Json).clusters, [
      { name: "outbound|9000|v1|tcp-echo.default.svc.cluster.local", weight: 80 },
      { name: "outbound|9000|v2|tcp-echo.default.svc.cluster.local", weight: 20 },
    ]);
    assert.deepEqual((l.address as Json).socket_address, { address: "127.0.0.2", port_value: 9000 });
  });
});

describe("every name of a service (Istio's generateVirtualHostDomains)", () => {
  const same = [
    "reviews",
    "reviews:9080",
    "reviews.default",
    "reviews.default:9080",
    "reviews.default.svc",
    "reviews.default.svc:9080",
    REVIEWS,
    `${REVIEWS}:9080`,
  ];
  for (const authority of same) {
    test(`from the service's namespace, ${authority} reaches reviews`, () => {
      const r = routed(table("virtual-host-domains.yaml").table, authority, "/");
      assert.equal(r.virtualHostName, `${REVIEWS}:9080`);
      assert.equal(r.pickCluster().name, reviews(""));
    });
  }
  for (const authority of same.slice(2)) {
    test(`from another namespace, ${authority} reaches reviews`, () => {
      const r = routed(table("virtual-host-domains-other-namespace.yaml").table, authority, "/");
      assert.equal(r.pickCluster().name, reviews(""));
    });
  }
  test("from another namespace, the short name is not reviews (it falls through to the passthrough)", () => {
    const t = table("virtual-host-domains-other-namespace.yaml").table;
    assert.equal(routed(t, "reviews", "/").virtualHostName, "allow_any");
    assert.equal(routed(t, "reviews:9080", "/").virtualHostName, "allow_any");
  });
  const billing = "outbound|8080||billing.internal.example";
  for (const authority of [
    "billing.internal.example",
    "billing.internal.example:8080",
    "240.240.0.10",
    "240.240.0.10:8080",
    "[2001:db8::10]",
    "[2001:db8::10]:8080",
  ]) {
    test(`a ServiceEntry's host and addresses: ${authority} reaches it`, () => {
      const r = routed(table("virtual-host-domains.yaml").table, authority, "/");
      assert.equal(r.pickCluster().name, billing);
    });
  }
  test("a ServiceEntry host outside svc.cluster.local has no short forms", () => {
    const t = table("virtual-host-domains.yaml").table;
    assert.equal(routed(t, "billing", "/").virtualHostName, "allow_any");
    assert.equal(routed(t, "billing.internal", "/").virtualHostName, "allow_any");
  });
});

describe("DestinationRule merging", () => {
  test("two rules for reviews merge: an 80/20 split reaches both subsets' clusters, which both exist", () => {
    const { table: t, result } = table("destination-rule-merge.yaml", 7);
    const n = 4000;
    const counts = split(t, "reviews:9080", n);
    assert.deepEqual([...counts.keys()].sort(), [reviews("v1"), reviews("v3")]);
    assert.ok(withinBinomial(counts.get(reviews("v3"))!, n, 0.2), JSON.stringify([...counts]));
    const clusters = new Map(result.clusters.map((c) => [String(c.name), c]));
    for (const subset of ["", "v1", "v2", "v3"]) {
      const cluster = clusters.get(reviews(subset));
      assert.ok(cluster, `cluster ${reviews(subset)}`);
      // The first rule's (reviews-base, by name) traffic policy wins for every subset.
      assert.equal(cluster.lb_policy, "LEAST_REQUEST", reviews(subset));
    }
    // v1 keeps its first definition (version v1), not the canary rule's duplicate (version v2).
    const v1 = result.endpoints.find((e) => e.cluster_name === reviews("v1"))!;
    assert.match(JSON.stringify(v1), /10\.0\.0\.21/);
    assert.doesNotMatch(JSON.stringify(v1), /10\.0\.0\.22/);
    assert.ok(result.problems.some((p) => p.includes("subset v1 of reviews.default.svc.cluster.local")));
    // ratings' only rule lives in the root namespace and applies here.
    assert.equal(routed(t, "ratings", "/").pickCluster().name, `outbound|9080|v1|${RATINGS}`);
    assert.ok(clusters.has(`outbound|9080|v1|${RATINGS}`));
  });
});

describe("delegation", () => {
  test("requests follow the delegate's routes under the root's match; the root's timeout applies where unset", () => {
    const { table: t } = table("delegation.yaml");
    const jason = routed(t, "reviews", "/api/list", { "end-user": "jason" });
    assert.equal(jason.pickCluster().name, reviews("v2"));
    assert.equal(jason.timeoutMs, 3000);
    const v3 = routed(t, "reviews", "/api/v3/x");
    assert.equal(v3.pickCluster().name, reviews("v3"));
    assert.equal(v3.timeoutMs, 1000);
    assert.equal(routed(t, "reviews", "/api/other").pickCluster().name, reviews("v1"));
    // The route delegated to a missing VirtualService is gone: /legacy falls through to the root's last route.
    const legacy = routed(t, "reviews", "/legacy/x", { "end-user": "jason" });
    assert.equal(legacy.pickCluster().name, reviews("v1"));
    assert.equal(legacy.timeoutMs, 0);
  });
});

describe("capture mode (INTERCEPTION_MODE REDIRECT)", () => {
  /** The route configuration "<port>" of a capture-mode translation, compiled by the proxy's router. */
  function portTable(file: string, port: number): { t: RouteTable; result: ReturnType<typeof translate> } {
    const { world, proxy } = loadCase(file);
    const result = translate(world, proxy);
    const config = result.routes.find((r: Json) => r.name === String(port));
    assert.ok(config, `route configuration "${port}"`);
    const typed = parseRouteConfiguration(config);
    return {
      t: compileRouteTable(typed, { random: seeded(1), compileFilterConfig: compilePerRouteFilterConfig }),
      result,
    };
  }

  test('route "8080" routes by every name of a service and by its VIP, with or without the port', () => {
    const { t, result } = portTable("capture-basic.yaml", 8080);
    const table = result.nameTable as { table: Record<string, { ips: string[] }> };
    const vip = table.table["meeting.default.svc.cluster.local"]!.ips[0]!;
    const meeting = "outbound|8080||meeting.default.svc.cluster.local";
    for (const authority of [
      "meeting:8080",
      "meeting",
      "meeting.default:8080",
      "meeting.default.svc.cluster.local:8080",
      `${vip}:8080`,
      vip,
    ]) {
      assert.equal(routed(t, authority, "/").pickCluster().name, meeting, authority);
    }
    const webVip = table.table["web.default.svc.cluster.local"]!.ips[0]!;
    assert.equal(routed(t, `${webVip}:8080`, "/").pickCluster().name, "outbound|8080||web.default.svc.cluster.local");
    // ALLOW_ANY: an unknown host goes to PassthroughCluster, the connection's original destination.
    assert.equal(routed(t, "10.9.9.9:8080", "/").pickCluster().name, "PassthroughCluster");
    const passthrough = result.clusters.find((c) => c.name === "PassthroughCluster");
    assert.equal(passthrough?.type, "ORIGINAL_DST");
  });

  test("REGISTRY_ONLY: an unknown host gets a 502; a wildcard ServiceEntry's hosts route to its ORIGINAL_DST cluster", () => {
    const { t } = portTable("capture-service-entries.yaml", 80);
    assert.equal(routed(t, "api.example.org", "/").pickCluster().name, "outbound|80||*.example.org");
    assert.equal(routed(t, "httpbin.org", "/").pickCluster().name, "outbound|80||httpbin.org");
    const refused = routed(t, "other.example.com", "/");
    assert.equal(refused.kind, "direct_response");
    assert.equal(refused.directStatus, 502);
  });
});
