import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RouteMatch } from "../types.ts";
import { parseRouteConfiguration } from "./route.ts";
import { assertIssues } from "./testing.ts";

/** A route configuration with one route whose match is `match`. */
function withMatch(match: unknown): unknown {
  return { virtual_hosts: [{ name: "vh", domains: ["*"], routes: [{ match, route: { cluster: "c" } }] }] };
}

function parseMatch(match: unknown): RouteMatch {
  return parseRouteConfiguration(withMatch(match)).virtualHosts[0].routes[0].match;
}

const AT = "virtual_hosts[0].routes[0].match";

describe("header matchers", () => {
  test("string_match in all its forms, with ignore_case", () => {
    const match = parseMatch({
      prefix: "/",
      headers: [
        { name: "X-Exact", string_match: { exact: "a" } },
        { name: "x-prefix", string_match: { prefix: "b", ignore_case: true } },
        { name: "x-suffix", stringMatch: { suffix: "c", ignoreCase: { value: true } } },
        { name: "x-contains", string_match: { contains: "d" } },
        { name: "x-regex", string_match: { safe_regex: { google_re2: {}, regex: "^v[0-9]+$" } } },
        { name: ":method", string_match: { exact: "" } },
      ],
    });
    assert.deepEqual(match.headers, [
      {
        name: "x-exact",
        match: { kind: "exact", value: "a", ignoreCase: false },
        invertMatch: false,
        treatMissingAsEmpty: false,
      },
      {
        name: "x-prefix",
        match: { kind: "prefix", value: "b", ignoreCase: true },
        invertMatch: false,
        treatMissingAsEmpty: false,
      },
      {
        name: "x-suffix",
        match: { kind: "suffix", value: "c", ignoreCase: true },
        invertMatch: false,
        treatMissingAsEmpty: false,
      },
      {
        name: "x-contains",
        match: { kind: "contains", value: "d", ignoreCase: false },
        invertMatch: false,
        treatMissingAsEmpty: false,
      },
      {
        name: "x-regex",
        match: { kind: "safe_regex", regex: "^v[0-9]+$" },
        invertMatch: false,
        treatMissingAsEmpty: false,
      },
      {
        name: ":method",
        match: { kind: "exact", value: "", ignoreCase: false },
        invertMatch: false,
        treatMissingAsEmpty: false,
      },
    ]);
  });

  test("the deprecated direct forms, present_match, no specifier, invert and treat-missing-as-empty", () => {
    const match = parseMatch({
      prefix: "/",
      headers: [
        { name: "a", exact_match: "1" },
        { name: "b", prefix_match: "2" },
        { name: "c", suffix_match: "3" },
        { name: "d", contains_match: "4" },
        { name: "e", safe_regex_match: { regex: "5+" } },
        { name: "f", present_match: true, invert_match: true },
        { name: "g", present_match: false },
        { name: "h", treat_missing_header_as_empty: true, exactMatch: "" },
        { name: "i" },
      ],
    });
    assert.deepEqual(
      match.headers.map((h) => [h.name, h.match, h.invertMatch, h.treatMissingAsEmpty]),
      [
        ["a", { kind: "exact", value: "1", ignoreCase: false }, false, false],
        ["b", { kind: "prefix", value: "2", ignoreCase: false }, false, false],
        ["c", { kind: "suffix", value: "3", ignoreCase: false }, false, false],
        ["d", { kind: "contains", value: "4", ignoreCase: false }, false, false],
        ["e", { kind: "safe_regex", regex: "5+" }, false, false],
        ["f", { kind: "present", present: true }, true, false],
        ["g", { kind: "present", present: false }, false, false],
        ["h", { kind: "exact", value: "", ignoreCase: false }, false, true],
        ["i", { kind: "present", present: true }, false, false],
      ],
    );
  });

  test("errors: missing name, two specifiers, empty prefix, bad regex, range_match, custom, bad header name", () => {
    assertIssues(
      () =>
        parseRouteConfiguration(
          withMatch({
            prefix: "/",
            headers: [
              { string_match: { exact: "a" } },
              { name: "a", exact_match: "1", prefix_match: "2" },
              { name: "b", prefix_match: "" },
              { name: "c", safe_regex_match: { regex: "(" } },
              { name: "d", range_match: { start: 1, end: 2 } },
              { name: "e", string_match: { custom: {} } },
              { name: "bad name" },
              { name: "f", string_match: {} },
              { name: "g", string_match: { prefix: "x", exact: "y" } },
            ],
          }),
        ),
      [
        [`${AT}.headers[0].name`, "required"],
        [`${AT}.headers[1]`, /^only one of string_match, .* may be set, got exact_match and prefix_match$/],
        [`${AT}.headers[2].prefix_match`, "must not be empty"],
        [`${AT}.headers[3].safe_regex_match.regex`, /^invalid regex "\(": /],
        [`${AT}.headers[4].range_match`, '"range_match" is not supported yet'],
        [`${AT}.headers[5].string_match.custom`, '"custom" is not supported yet'],
        [`${AT}.headers[5].string_match`, "one of exact, prefix, suffix, contains, safe_regex is required"],
        [`${AT}.headers[6].name`, 'expected a header name, got "bad name"'],
        [`${AT}.headers[7].string_match`, "one of exact, prefix, suffix, contains, safe_regex is required"],
        [
          `${AT}.headers[8].string_match`,
          "only one of exact, prefix, suffix, contains, safe_regex may be set, got exact and prefix",
        ],
      ],
    );
  });
});

describe("query parameter matchers", () => {
  test("string_match and present_match", () => {
    const match = parseMatch({
      prefix: "/",
      query_parameters: [
        { name: "debug", present_match: true },
        { name: "v", string_match: { exact: "2" } },
        { name: "q", stringMatch: { safeRegex: { regex: "^a" } } },
      ],
    });
    assert.deepEqual(match.queryParameters, [
      { name: "debug", stringMatch: undefined, presentMatch: true },
      { name: "v", stringMatch: { kind: "exact", value: "2", ignoreCase: false }, presentMatch: false },
      { name: "q", stringMatch: { kind: "safe_regex", regex: "^a" }, presentMatch: false },
    ]);
  });

  test("errors: neither, both, present_match false, unknown field", () => {
    assertIssues(
      () =>
        parseRouteConfiguration(
          withMatch({
            prefix: "/",
            query_parameters: [
              { name: "a" },
              { name: "b", present_match: true, string_match: { exact: "x" } },
              { name: "c", present_match: false },
              { name: "d", present_match: true, value: "x" },
              { present_match: true },
            ],
          }),
        ),
      [
        [`${AT}.query_parameters[0]`, "one of string_match, present_match is required"],
        [
          `${AT}.query_parameters[1]`,
          "only one of string_match, present_match may be set, got string_match and present_match",
        ],
        [`${AT}.query_parameters[2].present_match`, /^present_match: false matches nothing/],
        [`${AT}.query_parameters[3].value`, 'unknown field "value"'],
        [`${AT}.query_parameters[4].name`, "required"],
      ],
    );
  });
});
