// Route matching and actions end to end through a real sidecar: matches, rewrites, redirects, direct responses,
// header edits at every level, weighted splits within statistical bounds, and the load-balancing policies.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type EchoRecord, type Upstream } from "./support/upstreams.ts";
import http2 from "node:http2";
import { h2request, request } from "./support/clients.ts";
import { bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";
import { binomialBounds } from "./support/binomial.ts";
import { waitFor } from "./support/wait.ts";

for (const protocol of ["HTTP/1.1", "HTTP/2"] as const)
  describe(`route matching and actions (${protocol})`, () => {
    let session: http2.ClientHttp2Session | undefined;
    let a: Upstream;
    let b: Upstream;
    let proxy: RunningProxy;
    before(async () => {
      a = await startEchoServer("a");
      b = await startEchoServer("b");
      const routes: Raw[] = [
        { match: { path: "/exact" }, route: { cluster: "b" } },
        { match: { prefix: "/CaseLess", case_sensitive: false }, route: { cluster: "b" } },
        { match: { safe_regex: { regex: "/re/[0-9]+" } }, route: { cluster: "b" } },
        { match: { path_separated_prefix: "/sep" }, route: { cluster: "b" } },
        {
          match: { prefix: "/", headers: [{ name: "end-user", string_match: { exact: "jason" } }] },
          route: { cluster: "b" },
        },
        {
          match: { prefix: "/q", query_parameters: [{ name: "v", string_match: { exact: "2" } }] },
          route: { cluster: "b" },
        },
        { match: { prefix: "/api/" }, route: { cluster: "a", prefix_rewrite: "/v2/" } },
        {
          match: { prefix: "/rx/" },
          route: {
            cluster: "a",
            regex_rewrite: { pattern: { regex: "^/rx/([a-z]+)/(.*)$" }, substitution: "/\\2/\\1" },
          },
        },
        { match: { prefix: "/host" }, route: { cluster: "a", host_rewrite_literal: "rewritten.example" } },
        {
          match: { prefix: "/moved" },
          redirect: { host_redirect: "new.example", path_redirect: "/here", response_code: "PERMANENT_REDIRECT" },
        },
        { match: { prefix: "/https" }, redirect: { https_redirect: true } },
        { match: { prefix: "/direct" }, direct_response: { status: 418, body: { inline_string: "I am a teapot\n" } } },
        {
          match: { prefix: "/edits" },
          route: { cluster: "a" },
          request_headers_to_add: [
            { header: { key: "x-route", value: "route" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
          ],
          request_headers_to_remove: ["x-drop-me"],
          response_headers_to_add: [{ header: { key: "x-resp-route", value: "r" } }],
          response_headers_to_remove: ["x-upstream"],
        },
        { match: { prefix: "/" }, route: { cluster: "a" } },
      ];
      proxy = await startProxy(
        bootstrap(
          [
            httpListener("http", {
              name: "rc",
              virtual_hosts: [
                {
                  name: "main",
                  domains: ["*"],
                  routes,
                  request_headers_to_add: [{ header: { key: "x-vhost", value: "vh" } }],
                  response_headers_to_add: [
                    { header: { key: "x-resp-vhost", value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%" } },
                  ],
                },
                {
                  name: "other",
                  domains: ["other.example", "*.wild.example"],
                  routes: [{ match: { prefix: "/" }, route: { cluster: "b" } }],
                },
              ],
              request_headers_to_add: [{ header: { key: "x-rc", value: "rc" } }],
            }),
          ],
          [staticCluster("a", [a.port]), staticCluster("b", [b.port])],
        ),
      );
    });
    after(async () => {
      session?.close();
      await proxy.close();
      await a.close();
      await b.close();
    });

    /** One request over the suite's protocol; for HTTP/2 the host header becomes :authority. */
    const send = async (path: string, headers: Record<string, string>) => {
      if (protocol === "HTTP/1.1") return request(proxy.port(), { path, headers });
      session ??= http2.connect(`http://127.0.0.1:${proxy.port()}`);
      const { host, ...rest } = headers;
      const r = await h2request(session, {
        ":method": "GET",
        ":path": path,
        ":authority": host ?? `127.0.0.1:${proxy.port()}`,
        ...rest,
      });
      return { status: r.status, headers: r.headers, body: r.body, json: <T>() => JSON.parse(r.body) as T };
    };

    const via = async (path: string, headers: Record<string, string> = {}) => {
      const r = await send(path, headers);
      return { r, seen: r.status === 200 ? r.json<EchoRecord>() : undefined };
    };

    test("path, prefix (case-insensitive), regex and path-separated prefix matches", async () => {
      assert.equal((await via("/exact")).seen!.name, "b");
      assert.equal((await via("/exact/more")).seen!.name, "a");
      assert.equal((await via("/caseless/x")).seen!.name, "b");
      assert.equal((await via("/re/123")).seen!.name, "b");
      assert.equal((await via("/re/12a")).seen!.name, "a");
      assert.equal((await via("/sep")).seen!.name, "b");
      assert.equal((await via("/sep/x")).seen!.name, "b");
      assert.equal((await via("/separate")).seen!.name, "a");
    });

    test("header and query parameter matches (bookinfo: end-user jason goes to b)", async () => {
      assert.equal((await via("/anything", { "end-user": "jason" })).seen!.name, "b");
      assert.equal((await via("/anything", { "end-user": "other" })).seen!.name, "a");
      assert.equal((await via("/q?v=2")).seen!.name, "b");
      assert.equal((await via("/q?v=1")).seen!.name, "a");
    });

    test("virtual hosts by domain, with wildcards", async () => {
      assert.equal((await via("/", { host: "other.example" })).seen!.name, "b");
      assert.equal((await via("/", { host: "x.wild.example" })).seen!.name, "b");
      assert.equal((await via("/", { host: "elsewhere" })).seen!.name, "a");
    });

    test("prefix, regex and host rewrites", async () => {
      assert.equal((await via("/api/users?id=1")).seen!.url, "/v2/users?id=1");
      assert.equal((await via("/rx/abc/def")).seen!.url, "/def/abc");
      assert.equal((await via("/host")).seen!.headers.host, "rewritten.example");
    });

    test("redirects and direct responses", async () => {
      const moved = (await via("/moved")).r;
      assert.equal(moved.status, 308);
      assert.equal(moved.headers.location, "http://new.example/here");
      const https = (await via("/https/x?y=1", { host: "site.example" })).r;
      assert.equal(https.status, 301);
      assert.equal(https.headers.location, "https://site.example/https/x?y=1");
      const teapot = (await via("/direct")).r;
      assert.equal(teapot.status, 418);
      assert.equal(teapot.body, "I am a teapot\n");
    });

    test("header edits at route, virtual host and route-configuration level", async () => {
      const { r, seen } = await via("/edits", { "x-drop-me": "1", "x-route": "client" });
      assert.equal(seen!.headers["x-route"], "route");
      assert.equal(seen!.headers["x-vhost"], "vh");
      assert.equal(seen!.headers["x-rc"], "rc");
      assert.equal(seen!.headers["x-drop-me"], undefined);
      assert.equal(r.headers["x-resp-route"], "r");
      assert.equal(r.headers["x-resp-vhost"], "127.0.0.1");
      assert.equal(r.headers["x-upstream"], undefined);
    });
  });

describe("weighted clusters and load balancing", () => {
  const upstreams: Upstream[] = [];
  before(async () => {
    for (const n of ["w1", "w2", "w3"]) upstreams.push(await startEchoServer(n));
  });
  after(async () => {
    for (const u of upstreams) await u.close();
  });

  test("a 90/10 split falls inside 99.9 % binomial bounds", async () => {
    const [u1, u2] = upstreams;
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", {
            name: "rc",
            virtual_hosts: [
              {
                name: "v",
                domains: ["*"],
                routes: [
                  {
                    match: { prefix: "/" },
                    route: {
                      weighted_clusters: {
                        clusters: [
                          { name: "v1", weight: 90 },
                          { name: "v2", weight: 10 },
                        ],
                      },
                    },
                  },
                ],
              },
            ],
          }),
        ],
        [staticCluster("v1", [u1!.port]), staticCluster("v2", [u2!.port])],
      ),
    );
    try {
      const n = 2000;
      let v2 = 0;
      const agent = new (await import("node:http")).Agent({ keepAlive: true, maxSockets: 8 });
      const batch = 50;
      for (let i = 0; i < n; i += batch) {
        const replies = await Promise.all(Array.from({ length: batch }, () => request(proxy.port(), { agent })));
        for (const r of replies) if (r.json<EchoRecord>().name === "w2") v2++;
      }
      agent.destroy();
      const [lo, hi] = binomialBounds(n, 0.1);
      assert.ok(v2 >= lo && v2 <= hi, `v2 got ${v2} of ${n}, expected within [${lo.toFixed(0)}, ${hi.toFixed(0)}]`);
    } finally {
      await proxy.close();
    }
  });

  const lbProxy = (policy: string, routeExtra: Raw = {}) =>
    startProxy(
      bootstrap(
        [
          httpListener("http", {
            name: "rc",
            virtual_hosts: [
              {
                name: "v",
                domains: ["*"],
                routes: [{ match: { prefix: "/" }, route: { cluster: "pool", ...routeExtra } }],
              },
            ],
          }),
        ],
        [
          staticCluster(
            "pool",
            upstreams.map((u) => u.port),
            { lb_policy: policy },
          ),
        ],
      ),
    );

  test("ROUND_ROBIN visits every endpoint in turn", async () => {
    const proxy = await lbProxy("ROUND_ROBIN");
    try {
      const names: string[] = [];
      for (let i = 0; i < 9; i++) names.push((await request(proxy.port())).json<EchoRecord>().name);
      for (const n of ["w1", "w2", "w3"]) assert.equal(names.filter((x) => x === n).length, 3, names.join(","));
    } finally {
      await proxy.close();
    }
  });

  for (const policy of ["RING_HASH", "MAGLEV"]) {
    test(`${policy} keeps one key on one endpoint and spreads keys`, async () => {
      const proxy = await lbProxy(policy, { hash_policy: [{ header: { header_name: "x-user" } }] });
      try {
        const endpointOf = new Map<string, Set<string>>();
        for (let k = 0; k < 30; k++) {
          for (let i = 0; i < 4; i++) {
            const name = (await request(proxy.port(), { headers: { "x-user": `user-${k}` } })).json<EchoRecord>().name;
            if (!endpointOf.has(`user-${k}`)) endpointOf.set(`user-${k}`, new Set());
            endpointOf.get(`user-${k}`)!.add(name);
          }
        }
        for (const [key, set] of endpointOf) assert.equal(set.size, 1, `${key} went to ${[...set].join(",")}`);
        const used = new Set([...endpointOf.values()].map((s) => [...s][0]));
        assert.ok(used.size >= 2, "30 keys should land on more than one endpoint");
      } finally {
        await proxy.close();
      }
    });
  }

  test("a cookie hash policy with a ttl sets the cookie, and the cookie keeps the client on one endpoint", async () => {
    const proxy = await lbProxy("RING_HASH", {
      hash_policy: [{ cookie: { name: "sticky", ttl: "3600s", path: "/" } }],
    });
    try {
      const first = await request(proxy.port());
      const setCookie = String(first.headers["set-cookie"] ?? "");
      assert.match(setCookie, /^sticky="?[^;"]+"?; Max-Age=3600; Path=\//);
      const cookie = setCookie.split(";")[0]!;
      const names = new Set<string>();
      for (let i = 0; i < 20; i++)
        names.add((await request(proxy.port(), { headers: { cookie } })).json<EchoRecord>().name);
      assert.equal(names.size, 1);
      // With the cookie present, none is set again.
      assert.equal((await request(proxy.port(), { headers: { cookie } })).headers["set-cookie"], undefined);
    } finally {
      await proxy.close();
    }
  });

  test("RANDOM reaches every endpoint", async () => {
    const proxy = await lbProxy("RANDOM");
    try {
      const names = new Set<string>();
      for (let i = 0; i < 60; i++) names.add((await request(proxy.port())).json<EchoRecord>().name);
      assert.equal(names.size, 3);
    } finally {
      await proxy.close();
    }
  });
});

describe("LEAST_REQUEST prefers the idle endpoint", () => {
  test("while one endpoint holds slow requests, new ones go to the other", async () => {
    const held: (() => void)[] = [];
    // The first three requests to "slow" stay in flight until released; later ones are answered at once.
    const slow = await startEchoServer("slow", (_req, res) => {
      const answer = () => res.end(JSON.stringify({ name: "slow" }));
      if (held.length < 3) held.push(answer);
      else answer();
    });
    const fast = await startEchoServer("fast");
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener("http", {
            name: "rc",
            virtual_hosts: [
              { name: "v", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "pool" } }] },
            ],
          }),
        ],
        [staticCluster("pool", [slow.port, fast.port], { lb_policy: "LEAST_REQUEST" })],
      ),
    );
    try {
      // Fill the slow endpoint with requests that stay in flight.
      const pending: Promise<unknown>[] = [];
      while (held.length < 3) {
        pending.push(request(proxy.port()));
        await new Promise((r) => setImmediate(r));
        // Keep issuing until three are held by the slow upstream (the others complete on fast).
        if (pending.length > 50) break;
        await waitFor(() => slow.received.length + fast.received.length >= pending.length);
      }
      assert.equal(held.length, 3);
      // With 3 active on slow and 0 on fast, power-of-two choices (two samples, with replacement as Envoy draws
      // them) picks fast unless both samples are slow: p = 3/4, where round robin would give 1/2.
      const n = 60;
      let toFast = 0;
      for (let i = 0; i < n; i++) if ((await request(proxy.port())).json<EchoRecord>().name === "fast") toFast++;
      const [lo] = binomialBounds(n, 0.75);
      assert.ok(toFast >= lo, `fast got ${toFast} of ${n}; expected at least ${lo.toFixed(1)}`);
      for (const release of held) release();
      await Promise.all(pending);
    } finally {
      await proxy.close();
      await slow.close();
      await fast.close();
    }
  });
});
