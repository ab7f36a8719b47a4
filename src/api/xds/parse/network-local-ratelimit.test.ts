import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseListener } from "./listener.ts";
import { NETWORK_LOCAL_RATELIMIT_TYPE_URL } from "./network-local-ratelimit.ts";
import { TCP_PROXY_TYPE_URL } from "./tcp-proxy.ts";
import { assertIssues } from "./testing.ts";

const TCP = {
  name: "envoy.filters.network.tcp_proxy",
  typed_config: { "@type": TCP_PROXY_TYPE_URL, stat_prefix: "tcp", cluster: "app" },
};

function rateLimit(config: Record<string, unknown>): unknown {
  return {
    name: "envoy.filters.network.local_ratelimit",
    typed_config: { "@type": NETWORK_LOCAL_RATELIMIT_TYPE_URL, ...config },
  };
}

function listener(filters: unknown[]): unknown {
  return {
    name: "l",
    address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    filter_chains: [{ filters }],
  };
}

const GOOD = { stat_prefix: "conn", token_bucket: { max_tokens: 2, fill_interval: "1s" } };

describe("envoy.filters.network.local_ratelimit", () => {
  test("parses before a terminal filter; runtime_enabled defaults to enabled", () => {
    const filters = parseListener(listener([rateLimit(GOOD), TCP])).filterChains[0]!.filters;
    assert.deepEqual(
      filters.map((f) => f.kind),
      ["local_ratelimit", "tcp_proxy"],
    );
    assert.deepEqual(filters[0]!.config, {
      statPrefix: "conn",
      tokenBucket: { maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 1000 },
      enabled: true,
    });
  });

  test("runtime_enabled: the default value is the value, the runtime key is ignored", () => {
    const off = { ...GOOD, runtime_enabled: { default_value: false, runtime_key: "rl_enabled" } };
    const filter = parseListener(listener([rateLimit(off), TCP])).filterChains[0]!.filters[0]!;
    assert.equal(filter.kind === "local_ratelimit" && filter.config.enabled, false);
  });

  test("the chain must end with a terminal filter, and a terminal filter must be last", () => {
    assertIssues(
      () => parseListener(listener([rateLimit(GOOD)])),
      [
        [
          "filter_chains[0].filters[0]",
          /local_ratelimit is not a terminal filter: the chain must end with http_connection_manager or tcp_proxy/,
        ],
      ],
    );
    assertIssues(
      () => parseListener(listener([TCP, rateLimit(GOOD)])),
      [
        ["filter_chains[0].filters[0]", "envoy.filters.network.tcp_proxy is a terminal filter and must be last"],
        ["filter_chains[0].filters[1]", /is not a terminal filter/],
      ],
    );
  });

  test("bad fields are named; share_key is refused; unknown filters list the supported ones", () => {
    assertIssues(
      () =>
        parseListener(
          listener([
            rateLimit({
              token_bucket: { max_tokens: 0, fill_interval: "0.001s" },
              share_key: "k",
              runtime_enabled: {},
            }),
            TCP,
          ]),
        ),
      [
        ["filter_chains[0].filters[0].typed_config.share_key", '"share_key" is not supported yet'],
        ["filter_chains[0].filters[0].typed_config.stat_prefix", "required"],
        ["filter_chains[0].filters[0].typed_config.token_bucket.max_tokens", "expected an integer 1-4294967295, got 0"],
        [
          "filter_chains[0].filters[0].typed_config.token_bucket.fill_interval",
          "must be at least 50ms (as in Envoy), got 1ms",
        ],
        ["filter_chains[0].filters[0].typed_config.runtime_enabled.default_value", "required"],
      ],
    );
    assertIssues(
      () => parseListener(listener([rateLimit({ stat_prefix: "x" }), TCP])),
      [["filter_chains[0].filters[0].typed_config.token_bucket", "required"]],
    );
    assertIssues(
      () => parseListener(listener([{ name: "envoy.filters.network.rbac", typed_config: { "@type": "x.Rbac" } }, TCP])),
      [
        [
          "filter_chains[0].filters[0].typed_config",
          'unknown network filter "envoy.filters.network.rbac" (type x.Rbac)',
        ],
      ],
    );
  });
});
