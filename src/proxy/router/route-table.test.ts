// Simulation tests: realistic route tables (Istio bookinfo-like), synthetic requests, assert which virtual host,
// route and cluster each request reaches. No sockets.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../api/errors.ts";
import type { RouteConfiguration } from "../../api/xds/types.ts";
import { compileRouteTable } from "./route-table.ts";
import type { CompiledRoute } from "./compiled-route.ts";
import type { RouteMiss, RouteTable } from "./route-table.ts";
import {
  cluster,
  connect,
  direct,
  exact,
  forward,
  header,
  prefix,
  regex,
  request,
  route,
  routeConfig,
  seeded,
  str,
  vhost,
  weighted,
} from "./testing.ts";

const REVIEWS = "reviews.default.svc.cluster.local";
const outbound = (subset: string, host: string, port = 9080): string => `outbound|${port}|${subset}|${host}`;

/** Istio's outbound route configuration for port 9080 in bookinfo, reduced to what routing reads. */
function bookinfo(): RouteConfiguration {
  const domains = (svc: string, ip: string): string[] => {
    const names = [`${svc}.default.svc.cluster.local`, svc, `${svc}.default.svc`, `${svc}.default`, ip];
    return names.flatMap((n) => [n, `${n}:9080`]);
  };
  return routeConfig(
    [
      vhost(`${REVIEWS}:9080`, domains("reviews", "10.96.0.12"), [
        route(
          "jason",
          prefix("/", { headers: [header("end-user", str("exact", "jason"))] }),
          forward(outbound("v2", REVIEWS)),
        ),
        route(
          "split",
          prefix("/"),
          weighted([cluster(outbound("v1", REVIEWS), 50), cluster(outbound("v3", REVIEWS), 50)]),
        ),
      ]),
      vhost("productpage.default.svc.cluster.local:9080", domains("productpage", "10.96.0.10"), [
        route("productpage", exact("/productpage"), forward(outbound("", "productpage.default.svc.cluster.local"))),
        route("static", prefix("/static"), forward(outbound("", "productpage.default.svc.cluster.local"))),
        route("api", prefix("/api/v1/products"), forward(outbound("", "productpage.default.svc.cluster.local"))),
        route("login", exact("/login"), forward(outbound("", "productpage.default.svc.cluster.local"))),
      ]),
      vhost("ratings.default.svc.cluster.local:9080", domains("ratings", "10.96.0.11"), [
        route("ratings", prefix("/"), forward(outbound("v1", "ratings.default.svc.cluster.local"))),
      ]),
      vhost("allow_any", ["*"], [route("allow_any", prefix("/"), forward("PassthroughCluster"))]),
    ],
    {},
    "9080",
  );
}

function routed(
  table: RouteTable,
  authority: string,
  path: string,
  headers: Record<string, string> = {},
): CompiledRoute {
  const r = table.route(request(authority, path, headers));
  assert.notEqual(r.kind, "miss", `expected a route for ${authority}${path}`);
  return r as CompiledRoute;
}

describe("bookinfo simulation", () => {
  test("end-user: jason reaches reviews v2 on every name of the service", () => {
    const table = compileRouteTable(bookinfo(), { random: seeded(1) });
    for (const authority of ["reviews:9080", "reviews", `${REVIEWS}:9080`, "reviews.default", "10.96.0.12:9080"]) {
      const r = routed(table, authority, "/reviews/0", { "end-user": "jason" });
      assert.equal(r.name, "jason");
      assert.equal(r.virtualHostName, `${REVIEWS}:9080`);
      assert.equal(r.pickCluster().name, outbound("v2", REVIEWS));
    }
  });

  test("everyone else is split 50/50 between v1 and v3", () => {
    const table = compileRouteTable(bookinfo(), { random: seeded(7) });
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const r = routed(table, "reviews:9080", `/reviews/${i}`, { "end-user": i % 2 ? "alice" : "Jason" });
      assert.equal(r.name, "split");
      const name = r.pickCluster().name;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), [outbound("v1", REVIEWS), outbound("v3", REVIEWS)]);
    // Binomial(2000, 0.5): sd ≈ 22; ±5 sd.
    assert.ok(Math.abs(counts.get(outbound("v1", REVIEWS))! - 1000) < 112, JSON.stringify([...counts]));
  });

  test("productpage routes by exact path and prefix; other paths miss inside the virtual host", () => {
    const table = compileRouteTable(bookinfo());
    assert.equal(routed(table, "productpage:9080", "/productpage?u=normal").name, "productpage");
    assert.equal(routed(table, "productpage:9080", "/static/css/app.css").name, "static");
    assert.equal(routed(table, "productpage", "/api/v1/products/0/reviews").name, "api");
    assert.equal(routed(table, "productpage", "/login").name, "login");
    const miss = table.route(request("productpage:9080", "/productpage/extra")) as RouteMiss;
    assert.deepEqual(miss, {
      kind: "miss",
      reason: "no_route",
      virtualHostName: "productpage.default.svc.cluster.local:9080",
    });
  });

  test("unknown hosts fall to the '*' virtual host; authority case does not matter", () => {
    const table = compileRouteTable(bookinfo());
    assert.equal(routed(table, "example.com", "/").pickCluster().name, "PassthroughCluster");
    assert.equal(routed(table, "RATINGS.Default:9080", "/ratings/0").name, "ratings");
  });

  test("without a '*' virtual host an unknown authority is a no_virtual_host miss", () => {
    const config = bookinfo();
    config.virtualHosts.pop();
    const table = compileRouteTable(config);
    assert.deepEqual(table.route(request("example.com", "/")), { kind: "miss", reason: "no_virtual_host" });
    assert.equal(table.virtualHost("example.com"), undefined);
  });

  test("the table exposes its name, virtual hosts and their routes", () => {
    const table = compileRouteTable(bookinfo());
    assert.equal(table.name, "9080");
    assert.deepEqual(
      table.virtualHosts.map((v) => v.name),
      [
        `${REVIEWS}:9080`,
        "productpage.default.svc.cluster.local:9080",
        "ratings.default.svc.cluster.local:9080",
        "allow_any",
      ],
    );
    assert.deepEqual(
      table.virtualHosts[0]!.routes[1]!.clusters.map((c) => c.name),
      [outbound("v1", REVIEWS), outbound("v3", REVIEWS)],
    );
  });

  test("routes are tried in order: the first match wins even when a later one is more specific", () => {
    const table = compileRouteTable(
      routeConfig([
        vhost("v", ["*"], [route("all", prefix("/"), forward("a")), route("api", prefix("/api"), forward("b"))]),
      ]),
    );
    assert.equal(routed(table, "x", "/api/1").name, "all");
  });
});

describe("CONNECT and connect_matcher", () => {
  const table = compileRouteTable(
    routeConfig([
      vhost(
        "all",
        ["*"],
        [
          route("everything", regex(".*"), forward("web")),
          route("tunnel-db", connect({ headers: [header("x-db", { kind: "present", present: true })] }), forward("db")),
          route("tunnel", connect(), forward("egress")),
          route("root", prefix(""), forward("web")),
        ],
      ),
    ]),
  );
  const hit = (method: string, path: string, headers: Record<string, string> = {}): string =>
    (table.route(request("a.example:443", path, headers, method)) as CompiledRoute).name;

  test("a CONNECT is matched against connect_matcher routes only, in order, their other matchers included", () => {
    assert.equal(hit("CONNECT", "a.example:443"), "tunnel");
    assert.equal(hit("CONNECT", "a.example:443", { "x-db": "1" }), "tunnel-db");
  });

  test("other methods never reach a connect_matcher route", () => {
    assert.equal(hit("GET", "/"), "everything");
    assert.equal(hit("POST", "a.example:443"), "everything");
  });

  test("without a connect_matcher route a CONNECT misses, even where a regex or empty prefix takes anything", () => {
    const plain = compileRouteTable(
      routeConfig([vhost("all", ["*"], [route("everything", regex(".*"), forward("web"))])]),
    );
    assert.equal(plain.route(request("a.example:443", "a.example:443", {}, "CONNECT")).kind, "miss");
  });
});

describe("a 20-route table of every kind", () => {
  // Siblings share all but one character ("/svc09/", "/svc19/"), so the one-character probe must not skip the
  // right route nor accept a wrong one.
  const routes = [
    ...Array.from({ length: 12 }, (_, i) =>
      route(`p${i}`, prefix(`/svc${String(i * 5).padStart(2, "0")}/`), forward(`c${i}`)),
    ),
    route("exact", exact("/svc10"), forward("exact")),
    route("ci", prefix("/Admin/", { caseSensitive: false }), forward("ci")),
    route("sep", { ...prefix(""), path: { kind: "path_separated_prefix", value: "/docs" } }, forward("sep")),
    route("re", { ...prefix(""), path: { kind: "safe_regex", regex: "/item/[0-9]+" } }, forward("re")),
    route("hdr", prefix("/svc", { headers: [header("x-canary", { kind: "present", present: true })] }), forward("hdr")),
    route("slash-only", prefix("//"), forward("slashes")),
    route("gone", exact("/gone"), direct(410, "gone")),
  ];
  routes.push(route("fallback", prefix("/"), forward("fallback")));
  const table = compileRouteTable(routeConfig([vhost("v", ["*"], routes)]));
  const name = (path: string, headers: Record<string, string> = {}): string => {
    const r = table.route(request("h", path, headers));
    return r.kind === "miss" ? "miss" : r.name;
  };

  test("each request reaches the first route that accepts it", () => {
    assert.equal(routes.length, 20);
    for (let i = 0; i < 12; i++) assert.equal(name(`/svc${String(i * 5).padStart(2, "0")}/x`), `p${i}`);
    assert.equal(name("/svc09/x"), "fallback");
    assert.equal(name("/svc10"), "exact");
    assert.equal(name("/svc10?x"), "exact");
    assert.equal(name("/svc10/"), "p2");
    assert.equal(name("/ADMIN/users"), "ci");
    assert.equal(name("/docs"), "sep");
    assert.equal(name("/docs/a"), "sep");
    assert.equal(name("/docsx"), "fallback");
    assert.equal(name("/item/42?full=1"), "re");
    assert.equal(name("/item/4x"), "fallback");
    assert.equal(name("/svc77", { "x-canary": "1" }), "hdr");
    assert.equal(name("/svc77"), "fallback");
    assert.equal(name("//x"), "slash-only");
    assert.equal(name("/gone"), "gone");
    assert.equal(name("*"), "miss");
  });
});

describe("virtual host selection", () => {
  const table = compileRouteTable(
    routeConfig(
      [
        ["exact", ["foo.com", "api.foo.com"]],
        ["suffix", ["*.foo.com"]],
        ["longer-suffix", ["*-bar.foo.com"]],
        ["prefix", ["api.*"]],
        ["longer-prefix", ["api.internal.*"]],
        ["port-specific", ["svc.local:8080"]],
        ["portless", ["svc.local"]],
        ["v6", ["[::1]"]],
        ["default", ["*"]],
      ].map(([name, domains]) => vhost(name as string, domains as string[], [route("r", prefix("/"), direct(200))])),
    ),
  );
  const vh = (authority: string): string | undefined => table.virtualHost(authority)?.name;

  test("exact, then suffix wildcards longest first, then prefix wildcards longest first, then '*'", () => {
    assert.equal(vh("foo.com"), "exact");
    assert.equal(vh("api.foo.com"), "exact");
    assert.equal(vh("www.foo.com"), "suffix");
    assert.equal(vh("baz-bar.foo.com"), "longer-suffix");
    assert.equal(vh("api.example.org"), "prefix");
    assert.equal(vh("api.internal.example.org"), "longer-prefix");
    assert.equal(vh("example.org"), "default");
  });

  test("a suffix wildcard beats a prefix wildcard", () => {
    // "api.x.foo.com" matches both "*.foo.com" and "api.*".
    assert.equal(vh("api.x.foo.com"), "suffix");
  });

  test("a wildcard stands for at least one character", () => {
    assert.equal(vh(".foo.com"), "default");
    assert.equal(vh("-bar.foo.com"), "suffix");
    assert.equal(vh("api."), "default");
  });

  test("case-insensitive", () => {
    assert.equal(vh("FOO.com"), "exact");
    assert.equal(vh("WWW.Foo.COM"), "suffix");
  });

  test("ports: a domain naming the port first, then the host without it", () => {
    assert.equal(vh("svc.local:8080"), "port-specific");
    assert.equal(vh("svc.local:9090"), "portless");
    assert.equal(vh("svc.local"), "portless");
    assert.equal(vh("foo.com:80"), "exact");
    assert.equal(vh("www.foo.com:443"), "suffix");
    assert.equal(vh("[::1]:8080"), "v6");
    assert.equal(vh("[::1]"), "v6");
  });

  test("a port never makes an exact domain lose to a wildcard", () => {
    // "api.foo.com:80": "api.*" matches the authority as received, but the exact "api.foo.com" comes first.
    assert.equal(vh("api.foo.com:80"), "exact");
  });

  test("many wildcards of one length are looked up by map, with the same answers", () => {
    const hosts = Array.from({ length: 20 }, (_, i) => vhost(`h${i}`, [`*.s${String(i).padStart(2, "0")}.com`], []));
    const t = compileRouteTable(routeConfig(hosts));
    assert.equal(t.virtualHost("a.s07.com")?.name, "h7");
    assert.equal(t.virtualHost("a.s07.com:81")?.name, "h7");
    assert.equal(t.virtualHost("a.s99.com"), undefined);
  });

  test("only a '*' host: every authority, even an empty one, reaches it", () => {
    const t = compileRouteTable(routeConfig([vhost("any", ["*"], [])]));
    assert.equal(t.virtualHost("")?.name, "any");
    assert.equal(t.virtualHost("whatever:1")?.name, "any");
  });
});

describe("configuration errors", () => {
  test("duplicate domains, a second '*', bad regexes: all reported at once with field paths", () => {
    const config = routeConfig(
      [
        vhost(
          "a",
          ["x.com", "*"],
          [route("r", { ...prefix("/"), path: { kind: "safe_regex", regex: "(" } }, forward("c"))],
        ),
        vhost("b", ["X.com", "*", "*.y.com", "*.y.com"], [route("r", prefix("/"), forward("c"))]),
      ],
      {},
      "bad",
    );
    assert.throws(
      () => compileRouteTable(config),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, "TRELLIS_CONFIG_INVALID");
        assert.equal(err.source, 'route_configuration "bad"');
        assert.deepEqual(
          err.issues.map((i) => i.path),
          [
            "virtual_hosts[0].routes[0].match.safe_regex.regex",
            "virtual_hosts[1].domains[0]",
            "virtual_hosts[1].domains[1]",
            "virtual_hosts[1].domains[3]",
          ],
        );
        return true;
      },
    );
  });

  test("a route action without any cluster, and weights summing to zero, are refused", () => {
    const config = routeConfig([
      vhost(
        "v",
        ["*"],
        [
          route("none", prefix("/a"), forward("", { cluster: undefined })),
          route("zero", prefix("/b"), weighted([cluster("x", 0), cluster("y", 0)])),
        ],
      ),
    ]);
    assert.throws(
      () => compileRouteTable(config),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues.length === 2 &&
        err.issues[0]!.path === "virtual_hosts[0].routes[0].route" &&
        err.issues[1]!.path === "virtual_hosts[0].routes[1].route.weighted_clusters.clusters",
    );
  });
});
