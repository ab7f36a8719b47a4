import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseListener } from "./listener.ts";
import { matchesListenerFilterPredicate } from "./listener-filter-predicate.ts";
import { assertIssues } from "./testing.ts";
import type { ListenerFilterPredicate } from "../types.ts";

const TCP = {
  name: "envoy.filters.network.tcp_proxy",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
    stat_prefix: "t",
    cluster: "c",
  },
};

function withDisabled(filterDisabled: unknown): unknown {
  return {
    name: "l",
    address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    listener_filters: [
      {
        name: "envoy.filters.listener.http_inspector",
        ...(filterDisabled === undefined ? {} : { filter_disabled: filterDisabled }),
      },
    ],
    filter_chains: [{ filters: [TCP] }],
  };
}

const disabledOf = (raw: unknown): ListenerFilterPredicate | undefined =>
  parseListener(withDisabled(raw)).listenerFilters[0]!.disabled;

const range = (start: number, end: number): unknown => ({ destination_port_range: { start, end } });

describe("filter_disabled: parsing (Envoy's ListenerFilterChainMatchPredicate)", () => {
  test("every form is read, snake_case and lowerCamelCase", () => {
    assert.deepEqual(disabledOf({ any_match: true }), { kind: "any" });
    assert.deepEqual(disabledOf(range(80, 81)), { kind: "destination_port_range", start: 80, end: 81 });
    assert.deepEqual(disabledOf({ notMatch: { destinationPortRange: { start: 1, end: 2 } } }), {
      kind: "not",
      rule: { kind: "destination_port_range", start: 1, end: 2 },
    });
    assert.deepEqual(disabledOf({ or_match: { rules: [range(1, 2), { any_match: true }] } }), {
      kind: "or",
      rules: [{ kind: "destination_port_range", start: 1, end: 2 }, { kind: "any" }],
    });
    assert.deepEqual(disabledOf({ and_match: { rules: [range(1, 10), { not_match: range(5, 6) }] } }), {
      kind: "and",
      rules: [
        { kind: "destination_port_range", start: 1, end: 10 },
        { kind: "not", rule: { kind: "destination_port_range", start: 5, end: 6 } },
      ],
    });
  });

  test("a filter without it has no predicate; Int32Range's start and end default to 0 (the wire omits zeros)", () => {
    assert.equal(parseListener(withDisabled(undefined)).listenerFilters[0]!.disabled, undefined);
    assert.deepEqual(disabledOf({ destination_port_range: { end: 5 } }), {
      kind: "destination_port_range",
      start: 0,
      end: 5,
    });
  });

  test("mistakes are reported at their path with what was expected", () => {
    const at = "listener_filters[0].filter_disabled";
    assertIssues(
      () => parseListener(withDisabled({})),
      [[at, "one of or_match, and_match, not_match, any_match, destination_port_range is required"]],
    );
    assertIssues(
      () => parseListener(withDisabled({ any_match: true, ...(range(1, 2) as object) })),
      [
        [
          at,
          "only one of or_match, and_match, not_match, any_match, destination_port_range may be set, got any_match and destination_port_range",
        ],
      ],
    );
    assertIssues(
      () => parseListener(withDisabled({ any_match: false })),
      [[`${at}.any_match`, "expected true (the only value Envoy accepts), got false"]],
    );
    assertIssues(
      () => parseListener(withDisabled({ or_match: { rules: [range(1, 2)] } })),
      [[`${at}.or_match.rules`, "expected at least 2 rules, got 1"]],
    );
    assertIssues(
      () => parseListener(withDisabled({ not_match: { destination_port_range: { start: "x" } } })),
      [[`${at}.not_match.destination_port_range.start`, /integer/]],
    );
    assertIssues(
      () => parseListener(withDisabled({ not_match: { port: 80 } })),
      [
        [`${at}.not_match.port`, 'unknown field "port"'],
        [`${at}.not_match`, /one of .* is required/],
      ],
    );
    assertIssues(() => parseListener(withDisabled("all")), [[at, 'expected an object, got "all"']]);
  });

  test("nesting deeper than 32 is refused, not a stack overflow", () => {
    let deep: unknown = { any_match: true };
    for (let i = 0; i < 10_000; i++) deep = { not_match: deep };
    assert.throws(() => parseListener(withDisabled(deep)), /nested more than 32 deep/);
  });
});

describe("filter_disabled: matching a destination port", () => {
  const port = (start: number, end: number): ListenerFilterPredicate => ({
    kind: "destination_port_range",
    start,
    end,
  });

  test("a range is half-open, [start, end), as Envoy's Int32Range", () => {
    assert.equal(matchesListenerFilterPredicate(port(80, 82), 79), false);
    assert.equal(matchesListenerFilterPredicate(port(80, 82), 80), true);
    assert.equal(matchesListenerFilterPredicate(port(80, 82), 81), true);
    assert.equal(matchesListenerFilterPredicate(port(80, 82), 82), false);
    assert.equal(matchesListenerFilterPredicate(port(80, 80), 80), false, "an empty range matches nothing");
  });

  test("any, not, or, and", () => {
    assert.equal(matchesListenerFilterPredicate({ kind: "any" }, 1), true);
    const not80 = { kind: "not", rule: port(80, 81) } as const;
    assert.equal(matchesListenerFilterPredicate(not80, 80), false);
    assert.equal(matchesListenerFilterPredicate(not80, 81), true);
    const either = { kind: "or", rules: [port(80, 81), port(443, 444)] } as const;
    assert.deepEqual(
      [80, 443, 8080].map((p) => matchesListenerFilterPredicate(either, p)),
      [true, true, false],
    );
    const inButNot = {
      kind: "and",
      rules: [port(1000, 2000), not80, { kind: "not", rule: port(1500, 1501) }],
    } as const;
    assert.deepEqual(
      [999, 1000, 1500, 1999].map((p) => matchesListenerFilterPredicate(inButNot, p)),
      [false, true, false, true],
    );
  });
});
