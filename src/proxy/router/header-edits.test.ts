// Header edits: append actions, removes before adds, the order of levels, and %FORMAT% values.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../api/errors.ts";
import type { HeaderEdits, HeaderValueOption } from "../../api/xds/types.ts";
import { Headers } from "../http/headers.ts";
import type { CompiledRoute } from "./compiled-route.ts";
import type { RouteContext } from "./request.ts";
import { compileRouteTable } from "./route-table.ts";
import { CTX, add, cluster, forward, prefix, request, route, routeConfig, seeded, vhost, weighted } from "./testing.ts";

interface Levels {
  route?: Partial<HeaderEdits>;
  vhost?: Partial<HeaderEdits>;
  config?: Partial<HeaderEdits>;
}

function compiled(l: Levels): CompiledRoute {
  const table = compileRouteTable(
    routeConfig([vhost("v", ["*"], [route("r", prefix("/"), forward("c"), l.route)], l.vhost)], l.config),
    { hostname: "node-1" },
  );
  return table.virtualHosts[0]!.routes[0]!;
}

/** The request headers after the edits of one route-level list. */
function edited(
  adds: HeaderValueOption[],
  start: Record<string, string | string[]> = {},
  removes: string[] = [],
  ctx: RouteContext = CTX,
): Record<string, string> {
  const r = compiled({ route: { requestHeadersToAdd: adds, requestHeadersToRemove: removes } });
  const req = request("example.com", "/a/b?c=d", start);
  r.applyRequestHeaders(req.headers, req, ctx, r.pickCluster());
  return req.headers.toObject();
}

describe("append actions", () => {
  test("APPEND_IF_EXISTS_OR_ADD adds a value next to existing ones", () => {
    assert.deepEqual(edited([add("x-a", "2")], { "x-a": "1" }), { "x-a": "1, 2" });
    assert.deepEqual(edited([add("X-New", "v")]), { "x-new": "v" });
  });

  test("ADD_IF_ABSENT adds only when the header is missing", () => {
    assert.deepEqual(edited([add("x-a", "2", "ADD_IF_ABSENT")], { "x-a": "1" }), { "x-a": "1" });
    assert.deepEqual(edited([add("x-a", "2", "ADD_IF_ABSENT")]), { "x-a": "2" });
  });

  test("OVERWRITE_IF_EXISTS_OR_ADD replaces every value, or adds", () => {
    assert.deepEqual(edited([add("x-a", "3", "OVERWRITE_IF_EXISTS_OR_ADD")], { "x-a": ["1", "2"] }), { "x-a": "3" });
    assert.deepEqual(edited([add("x-a", "3", "OVERWRITE_IF_EXISTS_OR_ADD")]), { "x-a": "3" });
  });

  test("OVERWRITE_IF_EXISTS replaces only an existing header", () => {
    assert.deepEqual(edited([add("x-a", "3", "OVERWRITE_IF_EXISTS")], { "x-a": "1" }), { "x-a": "3" });
    assert.deepEqual(edited([add("x-a", "3", "OVERWRITE_IF_EXISTS")]), {});
  });

  test("within a level, overwrites apply before appends whatever the listed order (Envoy)", () => {
    const out = edited([add("x-a", "appended"), add("x-a", "set", "OVERWRITE_IF_EXISTS_OR_ADD")], { "x-a": "old" });
    assert.deepEqual(out, { "x-a": "set, appended" });
  });

  test("removes apply before adds within a level", () => {
    assert.deepEqual(edited([add("x-a", "new")], { "x-a": "old", "x-b": "gone" }, ["x-a", "X-B"]), { "x-a": "new" });
    // ADD_IF_ABSENT sees the header as removed.
    assert.deepEqual(edited([add("x-a", "new", "ADD_IF_ABSENT")], { "x-a": "old" }, ["x-a"]), { "x-a": "new" });
  });

  test("a value that is empty, or expands to empty, is not added", () => {
    assert.deepEqual(edited([add("x-empty", ""), add("x-missing", "%REQ(x-nothing)%")]), {});
    assert.deepEqual(edited([add("x-partial", "id-%REQ(x-nothing)%")]), { "x-partial": "id-" });
  });
});

describe("levels", () => {
  test("on overwrite the least specific level wins: route, then virtual host, then route configuration", () => {
    const set = (v: string): Partial<HeaderEdits> => ({
      requestHeadersToAdd: [add("x-level", v, "OVERWRITE_IF_EXISTS_OR_ADD")],
      responseHeadersToAdd: [add("x-level", v, "OVERWRITE_IF_EXISTS_OR_ADD")],
    });
    const r = compiled({ route: set("route"), vhost: set("vhost"), config: set("config") });
    const req = request("h", "/");
    r.applyRequestHeaders(req.headers, req, CTX, r.pickCluster());
    assert.equal(req.headers.get("x-level"), "config");
    const resp = new Headers();
    r.applyResponseHeaders(resp, req, CTX, r.pickCluster());
    assert.deepEqual(resp.toObject(), { "x-level": "config" });
  });

  test("appends accumulate most specific first; a level's removes see the earlier levels' adds", () => {
    const r = compiled({
      route: { requestHeadersToAdd: [add("x-trail", "route"), add("x-tmp", "t")] },
      vhost: { requestHeadersToAdd: [add("x-trail", "vhost")], requestHeadersToRemove: ["x-tmp"] },
      config: { requestHeadersToAdd: [add("x-trail", "config")] },
    });
    const req = request("h", "/");
    r.applyRequestHeaders(req.headers, req, CTX, undefined);
    assert.deepEqual(req.headers.toObject(), { "x-trail": "route, vhost, config" });
  });

  test("a weighted cluster's own edits come before the route's", () => {
    const table = compileRouteTable(
      routeConfig([
        vhost(
          "v",
          ["*"],
          [
            route(
              "r",
              prefix("/"),
              weighted([
                cluster("v1", 1, {
                  requestHeadersToAdd: [add("x-subset", "v1"), add("x-order", "cluster")],
                  responseHeadersToAdd: [add("x-served-by", "%UPSTREAM_CLUSTER%")],
                }),
              ]),
              { requestHeadersToAdd: [add("x-order", "route")], requestHeadersToRemove: ["x-subset"] },
            ),
          ],
        ),
      ]),
      { random: seeded(1) },
    );
    const r = table.virtualHosts[0]!.routes[0]!;
    const choice = r.pickCluster();
    const req = request("h", "/");
    r.applyRequestHeaders(req.headers, req, CTX, choice);
    // The route's remove runs after the cluster's add, so x-subset is gone.
    assert.deepEqual(req.headers.toObject(), { "x-order": "cluster, route" });
    const resp = new Headers();
    r.applyResponseHeaders(resp, req, CTX, choice);
    assert.deepEqual(resp.toObject(), { "x-served-by": "v1" });
  });
});

describe("formats", () => {
  test("downstream addresses, ports and protocol", () => {
    const out = edited([
      add("a", "%DOWNSTREAM_REMOTE_ADDRESS%"),
      add("b", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"),
      add("c", "%DOWNSTREAM_LOCAL_ADDRESS%"),
      add("d", "%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%"),
      add("e", "%DOWNSTREAM_REMOTE_PORT%/%DOWNSTREAM_LOCAL_PORT%"),
      add("f", "%PROTOCOL%"),
    ]);
    assert.deepEqual(out, {
      a: "10.1.2.3:40000",
      b: "10.1.2.3",
      c: "10.0.0.9:15001",
      d: "10.0.0.9",
      e: "40000/15001",
      f: "HTTP/1.1",
    });
  });

  test("IPv6 addresses are bracketed when a port follows", () => {
    const v6 = { ...CTX, remoteAddress: "::1", remotePort: 5 };
    assert.deepEqual(
      edited(
        [add("a", "%DOWNSTREAM_REMOTE_ADDRESS%"), add("b", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%")],
        {},
        [],
        v6,
      ),
      {
        a: "[::1]:5",
        b: "::1",
      },
    );
  });

  test("%REQ(name)%, alternatives with '?', truncation with :N, pseudo-headers", () => {
    const out = edited(
      [
        add("x-1", "%REQ(User-Agent)%"),
        add("x-2", "%REQ(x-missing?x-alt)%"),
        add("x-3", "%REQ(user-agent):4%"),
        add("x-4", "%REQ(:path)% %REQ(:method)% %REQ(:authority)%"),
      ],
      { "user-agent": "curl/8.0", "x-alt": "alt" },
    );
    assert.deepEqual(out, {
      "user-agent": "curl/8.0",
      "x-alt": "alt",
      "x-1": "curl/8.0",
      "x-2": "alt",
      "x-3": "curl",
      "x-4": "/a/b?c=d GET example.com",
    });
  });

  test("values are evaluated against the headers before the level's own adds", () => {
    assert.deepEqual(edited([add("x-a", "1"), add("x-copy", "%REQ(x-a)%")]), { "x-a": "1" });
  });

  test("%HOSTNAME%, %START_TIME%, %STREAM_ID%, and %% for a literal percent", () => {
    const out = edited([
      add("x-host", "%HOSTNAME%"),
      add("x-start", "%START_TIME%"),
      add("x-id", "%STREAM_ID%"),
      add("x-pct", "100%% of %PROTOCOL%"),
    ]);
    assert.deepEqual(out, {
      "x-host": "node-1",
      "x-start": "2024-01-02T03:04:05.678Z",
      "x-id": "req-1",
      "x-pct": "100% of HTTP/1.1",
    });
  });

  test("on responses %REQ% reads the request and %RESP% the response", () => {
    const r = compiled({
      route: { responseHeadersToAdd: [add("x-echo", "%REQ(x-user)%"), add("x-type", "type=%RESP(content-type)%")] },
    });
    const req = request("h", "/", { "x-user": "jason" });
    const resp = Headers.of({ "content-type": "text/plain" });
    r.applyResponseHeaders(resp, req, CTX, undefined);
    assert.deepEqual(resp.toObject(), { "content-type": "text/plain", "x-echo": "jason", "x-type": "type=text/plain" });
  });

  test("unknown or unterminated commands and unmodifiable headers are configuration errors", () => {
    assert.throws(
      () =>
        compiled({
          route: {
            requestHeadersToAdd: [
              add("a", "%NOPE%"),
              add("b", "50%"),
              add(":path", "/x"),
              add("c", "%START_TIME(%s)%"),
            ],
            requestHeadersToRemove: ["host"],
          },
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          [
            "virtual_hosts[0].routes[0].request_headers_to_remove[0]",
            "virtual_hosts[0].routes[0].request_headers_to_add[0].header.value",
            "virtual_hosts[0].routes[0].request_headers_to_add[1].header.value",
            "virtual_hosts[0].routes[0].request_headers_to_add[2].header.key",
            "virtual_hosts[0].routes[0].request_headers_to_add[3].header.value",
          ],
        );
        return true;
      },
    );
  });

  test("direct responses and redirects get the response edits too", () => {
    const table = compileRouteTable(
      routeConfig(
        [vhost("v", ["*"], [route("r", prefix("/"), { kind: "direct_response", status: 200, body: "ok" })])],
        { responseHeadersToAdd: [add("x-mesh", "trellis")] },
      ),
    );
    const r = table.virtualHosts[0]!.routes[0]!;
    const resp = new Headers();
    r.applyResponseHeaders(resp, request("h", "/"), CTX, undefined);
    assert.deepEqual(resp.toObject(), { "x-mesh": "trellis" });
  });
});
