// Every matcher of a route and its edge cases, checked through a one-route table.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { QueryParameterMatcher, RouteMatch, StringMatch } from "../../api/xds/types.ts";
import { compileRouteTable } from "./route-table.ts";
import {
  exact,
  forward,
  header,
  prefix,
  regex,
  request,
  route,
  routeConfig,
  separated,
  str,
  vhost,
} from "./testing.ts";

/** Whether a table holding just this match routes the request. */
function matches(
  m: RouteMatch,
  path: string,
  headers: Record<string, string | string[]> = {},
  method = "GET",
): boolean {
  const table = compileRouteTable(routeConfig([vhost("v", ["*"], [route("r", m, forward("c"))])]));
  return table.route(request("example.com", path, headers, method, "https")).kind === "route";
}

describe("path", () => {
  test("prefix: case-sensitive by default, the query is not part of the path", () => {
    assert.ok(matches(prefix("/api"), "/api"));
    assert.ok(matches(prefix("/api"), "/apiary"));
    assert.ok(matches(prefix("/api"), "/api?x=1"));
    assert.ok(!matches(prefix("/api"), "/API"));
    assert.ok(!matches(prefix("/api/v1"), "/api?/v1"));
    assert.ok(matches(prefix(""), "/anything"));
  });

  test("prefix: a prefix reaching into the query never matches (Envoy compares the path without it)", () => {
    assert.ok(!matches(prefix("/api?x"), "/api?x=1"));
    assert.ok(!matches(prefix("/a#"), "/a#frag"));
  });

  test("prefix: case_sensitive false folds ASCII case", () => {
    assert.ok(matches(prefix("/Api", { caseSensitive: false }), "/aPI/x"));
    assert.ok(!matches(prefix("/Api", { caseSensitive: false }), "/ap"));
  });

  test("path: the whole path before the query, exactly", () => {
    assert.ok(matches(exact("/login"), "/login"));
    assert.ok(matches(exact("/login"), "/login?next=/"));
    assert.ok(matches(exact("/login"), "/login#top"));
    assert.ok(!matches(exact("/login"), "/login/"));
    assert.ok(!matches(exact("/login"), "/logi"));
    assert.ok(!matches(exact("/login"), "/LOGIN"));
    assert.ok(matches(exact("/login", { caseSensitive: false }), "/LOGIN?x"));
  });

  test("safe_regex: anchored to the whole path, query excluded", () => {
    assert.ok(matches(regex("/v[0-9]+"), "/v12"));
    assert.ok(matches(regex("/v[0-9]+"), "/v12?page=2"));
    assert.ok(!matches(regex("/v[0-9]+"), "/v12/x"));
    assert.ok(!matches(regex("/v[0-9]+"), "/x/v12"));
    assert.ok(!matches(regex("/a\\?b"), "/a?b"));
    assert.ok(matches(regex("/a|/b"), "/b"), "alternation is inside the anchors");
    assert.ok(!matches(regex("/a|/b"), "/bc"));
  });

  test("path_separated_prefix: equal, or continued by '/'; query excluded", () => {
    const m = separated("/api");
    assert.ok(matches(m, "/api"));
    assert.ok(matches(m, "/api/"));
    assert.ok(matches(m, "/api/v1"));
    assert.ok(matches(m, "/api?x=1"));
    assert.ok(!matches(m, "/apix"));
    assert.ok(!matches(m, "/ap"));
    assert.ok(!matches(m, "/API/v1"));
    assert.ok(matches(separated("/API", { caseSensitive: false }), "/api/v1"));
  });
});

describe("headers", () => {
  const h = (name: string, m: StringMatch, extra = {}): RouteMatch =>
    prefix("/", { headers: [header(name, m, extra)] });

  test("exact, prefix, suffix, contains; with and without ignore_case", () => {
    assert.ok(matches(h("x-a", str("exact", "Blue")), "/", { "x-a": "Blue" }));
    assert.ok(!matches(h("x-a", str("exact", "Blue")), "/", { "x-a": "blue" }));
    assert.ok(matches(h("x-a", str("exact", "Blue", true)), "/", { "x-a": "bLUE" }));
    assert.ok(matches(h("x-a", str("prefix", "Bl")), "/", { "x-a": "Blue" }));
    assert.ok(matches(h("x-a", str("prefix", "bl", true)), "/", { "x-a": "Blue" }));
    assert.ok(matches(h("x-a", str("suffix", "ue")), "/", { "x-a": "Blue" }));
    assert.ok(matches(h("x-a", str("suffix", "UE", true)), "/", { "x-a": "Blue" }));
    assert.ok(!matches(h("x-a", str("suffix", "UE")), "/", { "x-a": "Blue" }));
    assert.ok(matches(h("x-a", str("contains", "lu")), "/", { "x-a": "Blue" }));
    assert.ok(matches(h("x-a", str("contains", "LU", true)), "/", { "x-a": "Blue" }));
    assert.ok(!matches(h("x-a", str("contains", "x")), "/", { "x-a": "Blue" }));
  });

  test("safe_regex must match the whole value", () => {
    const m = h("x-v", { kind: "safe_regex", regex: "v[0-9]" });
    assert.ok(matches(m, "/", { "x-v": "v2" }));
    assert.ok(!matches(m, "/", { "x-v": "v22" }));
    assert.ok(!matches(m, "/", { "x-v": "xv2" }));
  });

  test("several values of one header are joined with ',' before matching", () => {
    assert.ok(matches(h("x-a", str("exact", "a,b")), "/", { "x-a": ["a", "b"] }));
    assert.ok(!matches(h("x-a", str("exact", "a")), "/", { "x-a": ["a", "b"] }));
  });

  test("present_match, and its inversion", () => {
    const present = (p: boolean, invert = false): RouteMatch =>
      prefix("/", { headers: [header("x-p", { kind: "present", present: p }, { invertMatch: invert })] });
    assert.ok(matches(present(true), "/", { "x-p": "" }));
    assert.ok(!matches(present(true), "/"));
    assert.ok(matches(present(false), "/"));
    assert.ok(!matches(present(false), "/", { "x-p": "1" }));
    assert.ok(matches(present(true, true), "/"));
    assert.ok(!matches(present(true, true), "/", { "x-p": "1" }));
  });

  test("invert_match inverts a value match, but a missing header still does not match (Envoy)", () => {
    const m = h("x-a", str("exact", "jason"), { invertMatch: true });
    assert.ok(matches(m, "/", { "x-a": "alice" }));
    assert.ok(!matches(m, "/", { "x-a": "jason" }));
    assert.ok(!matches(m, "/"));
  });

  test("treat_missing_header_as_empty matches a missing header as the empty string", () => {
    assert.ok(matches(h("x-a", str("exact", ""), { treatMissingAsEmpty: true }), "/"));
    assert.ok(!matches(h("x-a", str("exact", "")), "/"));
    assert.ok(matches(h("x-a", str("exact", "jason"), { treatMissingAsEmpty: true, invertMatch: true }), "/"));
    assert.ok(!matches(h("x-a", str("prefix", "j"), { treatMissingAsEmpty: true }), "/"));
  });

  test("pseudo-headers read the request's own fields", () => {
    assert.ok(matches(h(":method", str("exact", "POST")), "/", {}, "POST"));
    assert.ok(!matches(h(":method", str("exact", "POST")), "/"));
    assert.ok(matches(h(":path", str("suffix", "?debug=1")), "/x?debug=1"));
    assert.ok(matches(h(":authority", str("exact", "example.com")), "/"));
    assert.ok(matches(h("host", str("exact", "example.com")), "/"));
    assert.ok(matches(h(":scheme", str("exact", "https")), "/"));
  });

  test("every header matcher must match", () => {
    const m = prefix("/", { headers: [header("a", str("exact", "1")), header("b", str("exact", "2"))] });
    assert.ok(matches(m, "/", { a: "1", b: "2" }));
    assert.ok(!matches(m, "/", { a: "1" }));
  });
});

describe("query parameters", () => {
  const q = (name: string, stringMatch: StringMatch | undefined, presentMatch = false): RouteMatch =>
    prefix("/", { queryParameters: [{ name, stringMatch, presentMatch } satisfies QueryParameterMatcher] });

  test("string_match on the raw (not percent-decoded) value", () => {
    assert.ok(matches(q("user", str("exact", "jason")), "/p?user=jason"));
    assert.ok(matches(q("user", str("exact", "a%20b")), "/p?x=1&user=a%20b"));
    assert.ok(!matches(q("user", str("exact", "a b")), "/p?user=a%20b"));
    assert.ok(matches(q("user", str("prefix", "JA", true)), "/p?user=jason"));
    assert.ok(!matches(q("user", str("exact", "jason")), "/p?users=jason"));
  });

  test("only the first value of a repeated parameter counts", () => {
    assert.ok(matches(q("v", str("exact", "1")), "/?v=1&v=2"));
    assert.ok(!matches(q("v", str("exact", "2")), "/?v=1&v=2"));
  });

  test("present_match, and a parameter without '=' has the empty value", () => {
    assert.ok(matches(q("debug", undefined, true), "/?debug"));
    assert.ok(matches(q("debug", undefined, true), "/?a=1&debug=&b"));
    assert.ok(!matches(q("debug", undefined, true), "/?a=1"));
    assert.ok(!matches(q("debug", undefined, true), "/debug"));
    assert.ok(matches(q("debug", str("exact", "")), "/?debug"));
  });

  test("several routes with query matchers on one request all read the same parse", () => {
    const table = compileRouteTable(
      routeConfig([
        vhost(
          "v",
          ["*"],
          [route("a", q("x", str("exact", "1")), forward("a")), route("b", q("y", str("exact", "2")), forward("b"))],
        ),
      ]),
    );
    const nameOf = (path: string): string => {
      const r = table.route(request("h", path));
      return r.kind === "miss" ? "miss" : r.name;
    };
    assert.equal(nameOf("/?x=0&y=2"), "b");
    assert.equal(nameOf("/?x=1"), "a");
    assert.equal(nameOf("/?x=2&y=1"), "miss");
  });
});

describe("grpc", () => {
  const g = prefix("/", { grpc: true });
  test("only content-type application/grpc or application/grpc+…", () => {
    assert.ok(matches(g, "/pkg.Svc/Method", { "content-type": "application/grpc" }));
    assert.ok(matches(g, "/pkg.Svc/Method", { "content-type": "application/grpc+proto" }));
    assert.ok(!matches(g, "/pkg.Svc/Method", { "content-type": "application/grpc-web" }));
    assert.ok(!matches(g, "/pkg.Svc/Method", { "content-type": "application/json" }));
    assert.ok(!matches(g, "/pkg.Svc/Method"));
  });
});
