import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FilterChainMatch } from "../../api/xds/types.ts";
import { FilterChainSelector, type ConnectionProperties } from "./filter-chain-selector.ts";

function match(m: Partial<FilterChainMatch>): FilterChainMatch {
  return {
    destinationPort: undefined,
    serverNames: [],
    transportProtocol: "",
    applicationProtocols: [],
    prefixRanges: [],
    sourcePrefixRanges: [],
    ...m,
  };
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

  const range = (addressPrefix: string, prefixLen: number) => ({ addressPrefix, prefixLen });

  test("destination IP (prefix_ranges) after the port, before server names: the longest prefix wins, v4 and v6", () => {
    const byIp = new FilterChainSelector(
      [
        { match: match({ prefixRanges: [range("10.0.0.0", 8)] }), value: "10/8" },
        { match: match({ prefixRanges: [range("10.250.0.0", 16), range("fd7e:250::", 64)] }), value: "narrow" },
        { match: match({ prefixRanges: [range("240.240.0.5", 32)], destinationPort: 6379 }), value: "vip-6379" },
        { match: match({ prefixRanges: [range("::", 0)] }), value: "any-v6" },
        { match: match({}), value: "any" },
      ],
      "default",
    );
    const at = (destinationAddress: string, destinationPort = 443) =>
      byIp.select(conn({ destinationAddress, destinationPort, transportProtocol: "raw_buffer" }));
    assert.equal(at("10.1.2.3"), "10/8");
    assert.equal(at("10.250.7.9"), "narrow");
    assert.equal(at("::ffff:10.250.7.9"), "narrow"); // an IPv4 peer on a dual-stack socket
    assert.equal(at("fd7e:250::9"), "narrow");
    assert.equal(at("fd7e:251::9"), "any-v6");
    assert.equal(at("192.168.1.1"), "any");
    assert.equal(at("240.240.0.5", 6379), "vip-6379");
    // Port 6379 has its own entry: nothing else is looked at (no backtracking to the "any port" chains).
    assert.equal(at("240.240.0.6", 6379), "default");
    assert.equal(byIp.select(conn({ transportProtocol: "raw_buffer" })), "any"); // address unknown: "any"
  });

  test("no backtracking: the longest prefix with no fitting chain below gets the default chain", () => {
    const strict = new FilterChainSelector(
      [
        { match: match({ prefixRanges: [range("10.250.0.0", 16)], transportProtocol: "tls" }), value: "tls-only" },
        { match: match({ prefixRanges: [range("10.0.0.0", 8)] }), value: "10/8" },
      ],
      "default",
    );
    assert.equal(strict.select(conn({ destinationAddress: "10.250.0.1", transportProtocol: "raw_buffer" })), "default");
    assert.equal(strict.select(conn({ destinationAddress: "10.250.0.1" })), "tls-only");
    assert.equal(strict.select(conn({ destinationAddress: "10.9.0.1", transportProtocol: "raw_buffer" })), "10/8");
  });

  test("source IP (source_prefix_ranges) last, after ALPN", () => {
    const bySource = new FilterChainSelector(
      [
        { match: match({ sourcePrefixRanges: [range("127.0.0.0", 8)] }), value: "local" },
        { match: match({ sourcePrefixRanges: [range("127.0.0.6", 32)] }), value: "inbound-passthrough" },
        { match: match({ sourcePrefixRanges: [range("10.0.0.0", 8)], applicationProtocols: ["h2"] }), value: "h2" },
      ],
      "default",
    );
    assert.equal(bySource.select(conn({ sourceAddress: "127.0.0.1" })), "local");
    assert.equal(bySource.select(conn({ sourceAddress: "127.0.0.6" })), "inbound-passthrough");
    assert.equal(bySource.select(conn({ sourceAddress: "10.0.0.1" })), "default");
    assert.equal(bySource.select(conn({ sourceAddress: "10.0.0.1", applicationProtocols: ["h2"] })), "h2");
    assert.equal(bySource.select(conn({ sourceAddress: "127.0.0.1", applicationProtocols: ["h2"] })), "default");
  });
});
