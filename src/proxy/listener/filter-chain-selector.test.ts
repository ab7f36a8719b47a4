import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FilterChainMatch } from "../../api/xds/types.ts";
import { FilterChainSelector, type ConnectionProperties } from "./filter-chain-selector.ts";

function match(m: Partial<FilterChainMatch>): FilterChainMatch {
  return { destinationPort: undefined, serverNames: [], transportProtocol: "", applicationProtocols: [], ...m };
}

function conn(c: Partial<ConnectionProperties>): ConnectionProperties {
  return { destinationPort: 443, transportProtocol: "tls", serverName: "", applicationProtocols: [], ...c };
}

describe("filter chain selection (Envoy's order, most specific first, no backtracking)", () => {
  const selector = new FilterChainSelector(
    [
      { match: match({ serverNames: ["www.example.com"] }), value: "exact" },
      { match: match({ serverNames: ["*.example.com"] }), value: "wild-example" },
      { match: match({ serverNames: ["*.com"] }), value: "wild-com" },
      { match: match({ transportProtocol: "raw_buffer" }), value: "plain" },
      { match: match({ transportProtocol: "tls", applicationProtocols: ["h2"] }), value: "tls-h2" },
      { match: match({ transportProtocol: "tls" }), value: "tls" },
    ],
    "default",
  );

  test("server names: exact, then the longest wildcard, then none", () => {
    assert.equal(selector.select(conn({ serverName: "www.example.com" })), "exact");
    assert.equal(selector.select(conn({ serverName: "api.example.com" })), "wild-example");
    assert.equal(selector.select(conn({ serverName: "a.b.example.com" })), "wild-example");
    assert.equal(selector.select(conn({ serverName: "other.com" })), "wild-com");
    // "*.example.com" does not cover "example.com" itself; "*.com" does.
    assert.equal(selector.select(conn({ serverName: "example.com" })), "wild-com");
    assert.equal(selector.select(conn({ serverName: "example.org" })), "tls");
  });

  test("transport protocol, then ALPN in the client's order, then the default", () => {
    assert.equal(selector.select(conn({ transportProtocol: "raw_buffer" })), "plain");
    assert.equal(selector.select(conn({ applicationProtocols: ["http/1.1", "h2"] })), "tls-h2");
    assert.equal(selector.select(conn({ applicationProtocols: ["http/1.1"] })), "tls");
  });

  test("no backtracking: a matched server name with no fitting transport gets the default chain", () => {
    assert.equal(selector.select(conn({ serverName: "www.example.com", transportProtocol: "raw_buffer" })), "exact");
    const strict = new FilterChainSelector(
      [
        { match: match({ serverNames: ["a.example.com"], transportProtocol: "raw_buffer" }), value: "a-plain" },
        { match: match({}), value: "any" },
      ],
      undefined,
    );
    assert.equal(strict.select(conn({ serverName: "a.example.com" })), undefined);
    assert.equal(strict.select(conn({ serverName: "b.example.com" })), "any");
  });

  test("destination port: the exact port first, else the chains without one; none fits → default", () => {
    const byPort = new FilterChainSelector(
      [
        { match: match({ destinationPort: 443, transportProtocol: "raw_buffer" }), value: "443-plain" },
        { match: match({}), value: "any" },
      ],
      "default",
    );
    assert.equal(byPort.select(conn({ destinationPort: 443, transportProtocol: "raw_buffer" })), "443-plain");
    assert.equal(byPort.select(conn({ destinationPort: 443 })), "default"); // not "any": Envoy does not fall back
    assert.equal(byPort.select(conn({ destinationPort: 8443 })), "any");
    assert.equal(new FilterChainSelector([], undefined).select(conn({})), undefined);
  });
});
