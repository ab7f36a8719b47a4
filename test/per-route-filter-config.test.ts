// typed_per_filter_config end to end: a filter sees its route's (or virtual host's) configuration, the most
// specific level wins, `disabled` turns it off for a route, and a bad or unknown entry is a configuration error
// that names the field.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ok, fail } from "../src/api/result.ts";
import { ConfigError } from "../src/api/errors.ts";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { registerFilter } from "../src/proxy/http/filters.ts";
import { FILTER_DISABLED } from "../src/proxy/router/compiled-route.ts";
import { Proxy } from "../src/proxy/server.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { request } from "./support/clients.ts";
import { bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";

const TAG_TYPE = "type.googleapis.com/trellis.test.Tag";

/** A filter that adds x-tag (its listener-level value, or the route's) to the request. */
registerFilter<{ tag: string }>({
  typeUrl: TAG_TYPE,
  parse: (raw) => (typeof raw.tag === "string" ? ok({ tag: raw.tag }) : fail(["tag: expected a string"])),
  parsePerRoute: (raw) => (typeof raw.tag === "string" ? ok(raw.tag) : fail(["tag: expected a string"])),
  create: (config, context) => (next) => (ex) => {
    const route = context.routeOf(ex);
    const own = route.kind === "miss" ? undefined : route.perFilterConfig(context.filterName);
    if (own !== FILTER_DISABLED) ex.headers.set("x-tag", typeof own === "string" ? own : config.tag);
    next(ex);
  },
});

const tag = (value: string): Raw => ({ "@type": TAG_TYPE, tag: value });

function config(upstreamPort: number, vhostExtra: Raw = {}, routes?: Raw[]): Raw {
  return bootstrap(
    [
      httpListener(
        "in",
        {
          virtual_hosts: [
            {
              name: "all",
              domains: ["*"],
              routes: routes ?? [
                {
                  match: { prefix: "/route" },
                  route: { cluster: "up" },
                  typed_per_filter_config: { tagger: tag("route") },
                },
                {
                  match: { prefix: "/off" },
                  route: { cluster: "up" },
                  typed_per_filter_config: {
                    tagger: { "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", disabled: true },
                  },
                },
                { match: { prefix: "/" }, route: { cluster: "up" } },
              ],
              ...vhostExtra,
            },
          ],
        },
        { http_filters: [{ name: "tagger", typed_config: tag("listener") }] },
      ),
    ],
    [staticCluster("up", [upstreamPort])],
  );
}

describe("typed_per_filter_config", () => {
  let up: Upstream;
  let proxy: RunningProxy;
  let vhostProxy: RunningProxy;
  before(async () => {
    up = await startEchoServer("up");
    proxy = await startProxy(config(up.port));
    vhostProxy = await startProxy(config(up.port, { typed_per_filter_config: { tagger: tag("vhost") } }));
  });
  after(async () => {
    await proxy.close();
    await vhostProxy.close();
    await up.close();
  });

  const tagSeen = async (p: RunningProxy, path: string): Promise<unknown> =>
    (await request(p.port(), { path })).json<{ headers: Record<string, unknown> }>().headers["x-tag"];

  test("a route's entry overrides the listener-level config; other routes keep it", async () => {
    assert.equal(await tagSeen(proxy, "/route/x"), "route");
    assert.equal(await tagSeen(proxy, "/other"), "listener");
  });

  test("a virtual host's entry applies to its routes without their own; the route's wins", async () => {
    assert.equal(await tagSeen(vhostProxy, "/other"), "vhost");
    assert.equal(await tagSeen(vhostProxy, "/route/x"), "route");
  });

  test("FilterConfig.disabled turns the filter off for that route", async () => {
    assert.equal(await tagSeen(proxy, "/off"), undefined);
  });

  test("an invalid entry, an unknown type and a missing @type are configuration errors naming the field", () => {
    const build = (routes: Raw[]): unknown => {
      try {
        new Proxy(parseBootstrap(JSON.stringify(config(1, {}, routes)), "t"), { log: () => {} });
        return undefined;
      } catch (err) {
        return err;
      }
    };
    const invalid = build([
      { match: { prefix: "/" }, route: { cluster: "up" }, typed_per_filter_config: { tagger: { "@type": TAG_TYPE } } },
    ]);
    assert.ok(invalid instanceof ConfigError, String(invalid));
    assert.match(
      invalid.message,
      /virtual_hosts\[0\]\.routes\[0\]\.typed_per_filter_config\.tagger.*tag: expected a string/,
    );
    const unknown = build([
      {
        match: { prefix: "/" },
        route: { cluster: "up" },
        typed_per_filter_config: { other: { "@type": "type.googleapis.com/nope.Nope" } },
      },
    ]);
    assert.ok(unknown instanceof ConfigError);
    assert.match(unknown.message, /typed_per_filter_config\.other.*nope\.Nope is not supported/);
    let parseError: unknown;
    try {
      parseBootstrap(
        JSON.stringify(
          config(1, {}, [{ match: { prefix: "/" }, route: { cluster: "up" }, typed_per_filter_config: { x: {} } }]),
        ),
        "t.yaml",
      );
    } catch (err) {
      parseError = err;
    }
    assert.ok(parseError instanceof ConfigError);
    assert.match(parseError.message, /typed_per_filter_config\.x\.@type/);
  });
});
