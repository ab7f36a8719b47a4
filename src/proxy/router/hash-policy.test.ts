// hash_policy: header, cookie (read and generated), source_ip, query_parameter; folding and terminal policies.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { HashPolicy } from "../../api/xds/types.ts";
import { combineHashes, hashString } from "../upstream/hash.ts";
import type { CompiledRoute } from "./compiled-route.ts";
import { compileRouteTable } from "./route-table.ts";
import { CTX, forward, prefix, request, route, routeConfig, vhost } from "./testing.ts";

function withPolicies(...hashPolicy: HashPolicy[]): CompiledRoute {
  const table = compileRouteTable(
    routeConfig([vhost("v", ["*"], [route("r", prefix("/"), forward("c", { hashPolicy }))])]),
  );
  return table.virtualHosts[0]!.routes[0]!;
}

const headerPolicy = (headerName: string, terminal = false): HashPolicy => ({ kind: "header", headerName, terminal });
const cookiePolicy = (name: string, ttlMs?: number, terminal = false): HashPolicy => ({
  kind: "cookie",
  name,
  ttlMs,
  path: "/",
  terminal,
});
const queryPolicy = (name: string, terminal = false): HashPolicy => ({ kind: "query_parameter", name, terminal });
const sourceIp = (terminal = false): HashPolicy => ({ kind: "source_ip", terminal });

describe("hash policies", () => {
  test("no policy: undefined", () => {
    assert.equal(withPolicies().hash(request("h", "/"), CTX), undefined);
  });

  test("header: the same value gives the same hash, another value another", () => {
    const r = withPolicies(headerPolicy("X-User"));
    const a1 = r.hash(request("h", "/1", { "x-user": "alice" }), CTX);
    const a2 = r.hash(request("other", "/2", { "x-user": "alice" }), { ...CTX, remoteAddress: "10.9.9.9" });
    const b = r.hash(request("h", "/1", { "x-user": "bob" }), CTX);
    assert.equal(a1, hashString("alice"));
    assert.equal(a1, a2);
    assert.notEqual(a1, b);
    assert.equal(r.hash(request("h", "/"), CTX), undefined);
  });

  test("header: several values hash the same in any order; pseudo-headers read the request", () => {
    const r = withPolicies(headerPolicy("x-v"));
    assert.equal(
      r.hash(request("h", "/", { "x-v": ["a", "b"] }), CTX),
      r.hash(request("h", "/", { "x-v": ["b", "a"] }), CTX),
    );
    assert.equal(
      withPolicies(headerPolicy(":authority")).hash(request("api.local", "/"), CTX),
      hashString("api.local"),
    );
  });

  test("cookie: the cookie's value, quotes removed, among several cookies", () => {
    const r = withPolicies(cookiePolicy("session"));
    const h = r.hash(request("h", "/", { cookie: 'theme=dark; session="abc123"' }), CTX);
    assert.equal(h, hashString("abc123"));
    assert.equal(r.hash(request("h", "/", { cookie: ["a=1", "session=abc123"] }), CTX), h);
    assert.equal(r.hash(request("h", "/", { cookie: "sessionx=abc123" }), CTX), undefined);
  });

  test("cookie with a ttl: a missing cookie is generated from the connection, and sticks once sent back", () => {
    const r = withPolicies(cookiePolicy("sticky", 60_000));
    const cookies: string[] = [];
    const h1 = r.hash(request("h", "/"), CTX, (c) => cookies.push(c));
    const h2 = r.hash(request("h", "/"), CTX, (c) => cookies.push(c));
    assert.equal(cookies.length, 2);
    assert.equal(cookies[0], cookies[1]);
    const m = /^sticky="([0-9a-f]{8})"; Max-Age=60; Path=\/; HttpOnly$/.exec(cookies[0]!);
    assert.ok(m, cookies[0]);
    assert.equal(h1, h2);
    // The client returns the cookie: same hash, nothing generated.
    const h3 = r.hash(request("h", "/", { cookie: `sticky=${m[1]}` }), CTX, (c) => cookies.push(c));
    assert.equal(h3, h1);
    assert.equal(cookies.length, 2);
    // Another connection gets another cookie.
    const other: string[] = [];
    r.hash(request("h", "/"), { ...CTX, remotePort: 40001 }, (c) => other.push(c));
    assert.notEqual(other[0], cookies[0]);
  });

  test("source_ip: the remote address without its port", () => {
    const r = withPolicies(sourceIp());
    assert.equal(r.hash(request("h", "/"), CTX), hashString("10.1.2.3"));
    assert.equal(r.hash(request("h", "/"), { ...CTX, remotePort: 1 }), r.hash(request("h", "/"), CTX));
    assert.notEqual(r.hash(request("h", "/"), { ...CTX, remoteAddress: "10.1.2.4" }), r.hash(request("h", "/"), CTX));
  });

  test("query_parameter: the first value of the parameter", () => {
    const r = withPolicies(queryPolicy("user"));
    assert.equal(r.hash(request("h", "/p?user=alice&user=bob"), CTX), hashString("alice"));
    assert.equal(r.hash(request("h", "/p?x=1"), CTX), undefined);
  });

  test("several policies fold together; a terminal policy that produced a hash stops the walk", () => {
    const req = request("h", "/?q=1", { "x-a": "A" });
    const ha = hashString("A");
    const hq = hashString("1");
    const hip = hashString("10.1.2.3");
    assert.equal(withPolicies(headerPolicy("x-a"), queryPolicy("q")).hash(req, CTX), combineHashes(ha, hq));
    assert.equal(withPolicies(headerPolicy("x-a", true), queryPolicy("q")).hash(req, CTX), ha);
    // A terminal policy with nothing to hash does not stop the walk.
    assert.equal(
      withPolicies(headerPolicy("x-missing", true), queryPolicy("q"), sourceIp()).hash(req, CTX),
      combineHashes(hq, hip),
    );
    // Terminal stops once any hash exists, even one from an earlier policy.
    assert.equal(withPolicies(headerPolicy("x-a"), headerPolicy("x-missing", true), sourceIp()).hash(req, CTX), ha);
  });
});
