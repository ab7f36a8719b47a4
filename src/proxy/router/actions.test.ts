// Route actions: cluster choice (single and weighted), rewrites, redirects, direct responses, route settings.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RouteAction, RouteMatch, Route } from "../../api/xds/types.ts";
import { compileRouteTable } from "./route-table.ts";
import type { CompiledRoute } from "./compiled-route.ts";
import type { CompileOptions } from "./route-table.ts";
import {
  cluster,
  direct,
  exact,
  forward,
  prefix,
  redirect,
  regex,
  request,
  route,
  routeConfig,
  seeded,
  separated,
  vhost,
  weighted,
} from "./testing.ts";

function only(action: Route["action"], m: RouteMatch = prefix("/"), options?: CompileOptions): CompiledRoute {
  return compileRouteTable(routeConfig([vhost("v", ["*"], [route("r", m, action)])]), options).virtualHosts[0]!
    .routes[0]!;
}

/** The path after the route's rewrite. */
function rewritten(m: RouteMatch, action: RouteAction, path: string): string {
  const table = compileRouteTable(routeConfig([vhost("v", ["*"], [route("r", m, action)])]));
  const req = request("example.com", path);
  const r = table.route(req);
  assert.equal(r.kind, "route", `${path} should match`);
  (r as CompiledRoute).rewrite(req);
  return req.path;
}

describe("cluster choice", () => {
  test("a single cluster is one constant object", () => {
    const r = only(forward("reviews"));
    const a = r.pickCluster();
    assert.equal(a.name, "reviews");
    assert.equal(r.pickCluster(), a);
    assert.deepEqual(r.clusters, [a]);
  });

  test("90/10: 10,000 seeded picks fall within binomial bounds", () => {
    const r = only(weighted([cluster("v1", 90), cluster("v2", 10)]), prefix("/"), { random: seeded(42) });
    let v2 = 0;
    for (let i = 0; i < 10_000; i++) if (r.pickCluster().name === "v2") v2++;
    // Binomial(10000, 0.1): mean 1000, sd 30; ±5 sd.
    assert.ok(Math.abs(v2 - 1000) <= 150, `v2 picked ${v2} times`);
  });

  test("deterministic with the injected random; the choices are the prebuilt objects", () => {
    const action = weighted([cluster("a", 1), cluster("b", 1), cluster("c", 2)]);
    const seq = (): string[] => {
      const r = only(action, prefix("/"), { random: seeded(9) });
      return Array.from({ length: 50 }, () => r.pickCluster().name);
    };
    assert.deepEqual(seq(), seq());
    const r = only(action, prefix("/"), { random: seeded(9) });
    assert.ok(r.clusters.includes(r.pickCluster()));
  });

  test("random in [0, total) walks the cumulative weights; weight 0 is never chosen", () => {
    const values = [0, 0.2499, 0.25, 0.7499, 0.75, 0.9999];
    let i = 0;
    const r = only(weighted([cluster("a", 25), cluster("never", 0), cluster("b", 50), cluster("c", 25)]), prefix("/"), {
      random: () => values[i++]!,
    });
    assert.deepEqual(
      values.map(() => r.pickCluster().name),
      ["a", "a", "b", "b", "c", "c"],
    );
  });
});

describe("rewrites", () => {
  test("prefix_rewrite replaces the matched prefix and keeps the query", () => {
    assert.equal(
      rewritten(prefix("/api/"), forward("c", { prefixRewrite: "/v2/" }), "/api/users?id=1"),
      "/v2/users?id=1",
    );
    assert.equal(rewritten(prefix("/reviews/"), forward("c", { prefixRewrite: "/" }), "/reviews/1"), "/1");
    // Envoy's well-known result when the prefix lacks its trailing slash.
    assert.equal(rewritten(prefix("/reviews"), forward("c", { prefixRewrite: "/" }), "/reviews/1"), "//1");
  });

  test("prefix_rewrite with a case-insensitive prefix replaces as many characters as the prefix has", () => {
    const m = prefix("/API", { caseSensitive: false });
    assert.equal(rewritten(m, forward("c", { prefixRewrite: "/v1" }), "/api/x?q"), "/v1/x?q");
  });

  test("prefix_rewrite on path_separated_prefix and exact path matches", () => {
    const action = forward("c", { prefixRewrite: "/v2" });
    assert.equal(rewritten(separated("/api"), action, "/api/x?y=1"), "/v2/x?y=1");
    assert.equal(rewritten(separated("/api"), action, "/api"), "/v2");
    assert.equal(rewritten(separated("/api"), action, "/api?y"), "/v2?y");
    assert.equal(rewritten(exact("/old"), forward("c", { prefixRewrite: "/new" }), "/old?z=1"), "/new?z=1");
  });

  test("prefix_rewrite on a regex match replaces the whole path, not the query", () => {
    assert.equal(rewritten(regex("/v[0-9]+/.*"), forward("c", { prefixRewrite: "/latest" }), "/v3/a/b?x"), "/latest?x");
  });

  test("regex_rewrite rewrites the path with capture groups and keeps the query", () => {
    const action = forward("c", {
      regexRewrite: { regex: "^/service/([^/]+)(/.*)$", substitution: "\\2/instance/\\1" },
    });
    assert.equal(rewritten(prefix("/"), action, "/service/foo/v1/api?x=1"), "/v1/api/instance/foo?x=1");
    assert.equal(rewritten(prefix("/"), action, "/other"), "/other");
  });

  test("regex_rewrite replaces every match, never in the query", () => {
    const action = forward("c", { regexRewrite: { regex: "o", substitution: "0" } });
    assert.equal(rewritten(prefix("/"), action, "/foo/boo?o=o"), "/f00/b00?o=o");
  });

  test("host_rewrite_literal sets the authority; no rewrite leaves the request alone", () => {
    const r = only(forward("c", { hostRewriteLiteral: "reviews.internal" }));
    const req = request("Reviews:9080", "/a?b");
    r.rewrite(req);
    assert.equal(req.authority, "reviews.internal");
    assert.equal(req.path, "/a?b");
    const plain = request("h", "/p");
    only(forward("c")).rewrite(plain);
    assert.deepEqual([plain.authority, plain.path], ["h", "/p"]);
  });
});

describe("redirects", () => {
  const loc = (
    action: Partial<Parameters<typeof redirect>[0]>,
    authority: string,
    path: string,
    scheme = "http",
    m = prefix("/"),
  ): string => only(redirect(action), m).redirectLocation(request(authority, path, {}, "GET", scheme));

  test("by default every part comes from the request", () => {
    assert.equal(loc({}, "a.com:8080", "/p?q=1"), "http://a.com:8080/p?q=1");
  });

  test("https_redirect drops the old scheme's default port, keeps any other", () => {
    assert.equal(loc({ httpsRedirect: true }, "a.com", "/p?q"), "https://a.com/p?q");
    assert.equal(loc({ httpsRedirect: true }, "a.com:80", "/p"), "https://a.com/p");
    assert.equal(loc({ httpsRedirect: true }, "a.com:8080", "/p"), "https://a.com:8080/p");
    assert.equal(loc({ httpsRedirect: true }, "[::1]:80", "/"), "https://[::1]/");
    // Same scheme: nothing changes, the port stays.
    assert.equal(loc({ httpsRedirect: true }, "a.com:443", "/", "https"), "https://a.com:443/");
  });

  test("scheme_redirect wins over https_redirect; https → http drops :443", () => {
    assert.equal(loc({ schemeRedirect: "http", httpsRedirect: true }, "a.com:443", "/x", "https"), "http://a.com/x");
  });

  test("host_redirect replaces the whole authority; port_redirect replaces the port", () => {
    assert.equal(loc({ hostRedirect: "b.com" }, "a.com:8080", "/x"), "http://b.com/x");
    assert.equal(loc({ portRedirect: 9090 }, "a.com:8080", "/x"), "http://a.com:9090/x");
    assert.equal(loc({ portRedirect: 9090 }, "a.com", "/x"), "http://a.com:9090/x");
    assert.equal(
      loc({ hostRedirect: "b.com", portRedirect: 8443, httpsRedirect: true }, "a.com", "/"),
      "https://b.com:8443/",
    );
  });

  test("path_redirect keeps the request's query unless it has its own", () => {
    assert.equal(loc({ pathRedirect: "/new" }, "a.com", "/old?x=1"), "http://a.com/new?x=1");
    assert.equal(loc({ pathRedirect: "/new?y=2" }, "a.com", "/old?x=1"), "http://a.com/new?y=2");
    assert.equal(loc({ pathRedirect: "new" }, "a.com", "/old"), "http://a.com/new");
  });

  test("strip_query drops the query, except one path_redirect carries", () => {
    assert.equal(loc({ stripQuery: true }, "a.com", "/p?x=1"), "http://a.com/p");
    assert.equal(loc({ stripQuery: true, pathRedirect: "/n" }, "a.com", "/p?x=1"), "http://a.com/n");
    assert.equal(loc({ stripQuery: true, pathRedirect: "/n?k=v" }, "a.com", "/p?x=1"), "http://a.com/n?k=v");
  });

  test("prefix_rewrite replaces the matched prefix", () => {
    assert.equal(
      loc({ prefixRewrite: "/v2/" }, "a.com", "/v1/items?page=3", "http", prefix("/v1/")),
      "http://a.com/v2/items?page=3",
    );
  });

  test("the status is the configured response code", () => {
    const r = only(redirect({ responseCode: 308, httpsRedirect: true }));
    assert.equal(r.kind, "redirect");
    assert.equal(r.redirectStatus, 308);
    assert.throws(() => r.pickCluster(), { code: "TRELLIS_ROUTE_KIND" });
  });
});

describe("direct responses", () => {
  test("status and body, the body built once", () => {
    const r = only(direct(503, "maintenance\n"));
    assert.equal(r.kind, "direct_response");
    assert.equal(r.directStatus, 503);
    assert.ok(Buffer.isBuffer(r.directBody));
    assert.equal(r.directBody!.toString(), "maintenance\n");
    assert.equal(only(direct(204)).directBody, undefined);
    assert.throws(() => r.redirectLocation(request("h", "/")), { code: "TRELLIS_ROUTE_KIND" });
  });
});

describe("route settings", () => {
  test("timeouts and extensions pass through", () => {
    const r = only(
      forward("c", { timeoutMs: 0, idleTimeoutMs: 3000, extensions: { retry_policy: { num_retries: 2 } } }),
    );
    assert.equal(r.timeoutMs, 0);
    assert.equal(r.idleTimeoutMs, 3000);
    assert.deepEqual(r.extensions, { retry_policy: { num_retries: 2 } });
    assert.equal(only(forward("c")).idleTimeoutMs, undefined);
  });

  test("upgradeAllowed: the route's override, else the listener's default", () => {
    const r = only(forward("c", { upgradeOverrides: { WebSocket: false, "CONNECT-udp": true } }));
    assert.equal(r.upgradeAllowed("websocket", true), false);
    assert.equal(r.upgradeAllowed("connect-udp", false), true);
    assert.equal(r.upgradeAllowed("h2c", true), true);
    assert.equal(r.upgradeAllowed("h2c", false), false);
  });
});
