// CORS (envoy.filters.http.cors) end to end on real sockets: preflights answered by the proxy for allowed origins,
// forwarded (or answered bare) for others, actual requests' responses carrying the allow-origin headers, routes
// without a policy untouched, and a bad policy refused with its field path.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { Proxy } from "../src/proxy/server.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";

const CORS_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors";
const POLICY_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";

const policy = (extra: Raw = {}): Raw => ({
  "@type": POLICY_TYPE,
  allow_origin_string_match: [{ exact: "https://shop.example" }, { safe_regex: { regex: "https://[a-z]+\\.dev" } }],
  allow_methods: "GET,POST",
  allow_headers: "content-type,x-user",
  expose_headers: "x-request-id",
  max_age: "600",
  allow_credentials: true,
  ...extra,
});

function corsConfig(upstreamPort: number, routes: Raw[]): Raw {
  return bootstrap(
    [
      httpListener("in", allDomains(routes), {
        http_filters: [{ name: "envoy.filters.http.cors", typed_config: { "@type": CORS_TYPE } }],
      }),
    ],
    [staticCluster("app", [upstreamPort])],
  );
}

const route = (prefix: string, perFilter?: Raw): Raw => ({
  match: { prefix },
  route: { cluster: "app" },
  ...(perFilter ? { typed_per_filter_config: { "envoy.filters.http.cors": perFilter } } : {}),
});

describe("CORS filter", () => {
  let upstream: Upstream;
  let proxy: RunningProxy;

  before(async () => {
    upstream = await startEchoServer("app");
    proxy = await startProxy(
      corsConfig(upstream.port, [
        route("/strict", policy({ forward_not_matching_preflights: false })),
        route("/wild", policy({ allow_methods: "*", allow_headers: "*" })),
        route("/plain"),
        route("/", policy()),
      ]),
    );
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  const preflight = (path: string, origin: string, extra: Record<string, string> = {}) =>
    request(proxy.port(), {
      method: "OPTIONS",
      path,
      headers: { origin, "access-control-request-method": "POST", ...extra },
    });

  test("a preflight from an allowed origin is answered by the proxy with the policy's headers", async () => {
    const before = upstream.received.length;
    const r = await preflight("/api", "https://shop.example", { "access-control-request-headers": "x-user" });
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], "https://shop.example");
    assert.equal(r.headers["access-control-allow-methods"], "GET,POST");
    assert.equal(r.headers["access-control-allow-headers"], "content-type,x-user");
    assert.equal(r.headers["access-control-max-age"], "600");
    assert.equal(r.headers["access-control-allow-credentials"], "true");
    assert.equal(upstream.received.length, before, "the upstream never saw it");
    // A regex origin matches the whole value.
    const dev = await preflight("/api", "https://alice.dev");
    assert.equal(dev.headers["access-control-allow-origin"], "https://alice.dev");
  });

  test("a preflight from another origin goes to the upstream, or is answered bare when forwarding is off", async () => {
    const before = upstream.received.length;
    const forwarded = await preflight("/api", "https://evil.example");
    assert.equal(forwarded.status, 200);
    assert.equal(upstream.received.length, before + 1, "forwarded (forward_not_matching_preflights default true)");
    assert.equal(forwarded.headers["access-control-allow-origin"], undefined);
    const bare = await preflight("/strict", "https://evil.example");
    assert.equal(bare.status, 200);
    assert.equal(bare.headers["access-control-allow-origin"], undefined);
    assert.equal(bare.headers["access-control-allow-methods"], "GET,POST");
    assert.equal(upstream.received.length, before + 1, "answered by the proxy");
    // Half a regex is not a match: "https://alice.dev.evil" is refused.
    const tricky = await preflight("/strict", "https://alice.dev.evil");
    assert.equal(tricky.headers["access-control-allow-origin"], undefined);
  });

  test("'*' methods and headers echo what the preflight asked for", async () => {
    const r = await preflight("/wild", "https://shop.example", { "access-control-request-headers": "x-a, x-b" });
    assert.equal(r.headers["access-control-allow-methods"], "POST");
    assert.equal(r.headers["access-control-allow-headers"], "x-a, x-b");
  });

  test("an actual request from an allowed origin is forwarded and its response carries allow-origin", async () => {
    const r = await request(proxy.port(), { path: "/api", headers: { origin: "https://shop.example" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["access-control-allow-origin"], "https://shop.example");
    assert.equal(r.headers["access-control-allow-credentials"], "true");
    assert.equal(r.headers["access-control-expose-headers"], "x-request-id");
    assert.equal(r.headers["access-control-max-age"], undefined, "preflight-only headers stay off");
    const other = await request(proxy.port(), { path: "/api", headers: { origin: "https://evil.example" } });
    assert.equal(other.status, 200);
    assert.equal(other.headers["access-control-allow-origin"], undefined);
    const noOrigin = await request(proxy.port(), { path: "/api" });
    assert.equal(noOrigin.headers["access-control-allow-origin"], undefined);
  });

  test("a route without a policy is untouched, preflights included", async () => {
    const before = upstream.received.length;
    const r = await preflight("/plain", "https://shop.example");
    assert.equal(upstream.received.length, before + 1);
    assert.equal(r.headers["access-control-allow-origin"], undefined);
  });

  test("origins are counted as Envoy counts them", () => {
    const names = proxy.proxy.stats.toJSON().map((s) => `${s.name}=${s.value}`);
    assert.ok(
      names.some((n) => /^envoy_http_cors_origin_valid=[1-9]/.test(n)),
      names.join(" "),
    );
    assert.ok(
      names.some((n) => /^envoy_http_cors_origin_invalid=[1-9]/.test(n)),
      names.join(" "),
    );
  });
});

test("a bad CORS policy is refused with the field path and what was expected", () => {
  const raw = corsConfig(9, [
    route("/", policy({ max_age: "ten minutes", allow_origin_string_match: [{ safe_regex: { regex: "(" } }] })),
  ]);
  assert.throws(
    () => new Proxy(parseBootstrap(JSON.stringify(raw), "cors bootstrap"), { log: () => {} }),
    (err: Error) => /max_age/.test(err.message) && /allow_origin_string_match\[0\]/.test(err.message),
  );
});
