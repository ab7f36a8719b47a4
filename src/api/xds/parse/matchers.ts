// Matchers: RegexMatcher, StringMatcher, HeaderMatcher (with its deprecated direct forms) and
// QueryParameterMatcher. Every regex is compiled here, once, so a bad one fails at load and never per request.

import type { HeaderMatcher, QueryParameterMatcher, StringMatch } from "../types.ts";
import { describe } from "./context.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import type { Item } from "./fields.ts";

const REGEX_SPEC = { handled: ["regex"], ignored: ["google_re2"] } as const;

const STRING_MATCHER_SPEC = {
  handled: ["exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case"],
  unsupported: ["custom"],
} as const;

const HEADER_MATCHER_SPEC = {
  handled: [
    "name",
    "string_match",
    "present_match",
    "exact_match",
    "prefix_match",
    "suffix_match",
    "contains_match",
    "safe_regex_match",
    "invert_match",
    "treat_missing_header_as_empty",
  ],
  unsupported: ["range_match"],
} as const;

const QUERY_MATCHER_SPEC = { handled: ["name", "string_match", "present_match"] } as const;

/** Header names as HTTP/1.1 and HTTP/2 write them, plus the HTTP/2 pseudo-headers (`:path`, `:authority`, …). */
const MATCHABLE_HEADER_NAME = /^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/i;

/**
 * Checks that a regex compiles. Envoy uses RE2, whose syntax is nearly a subset of JavaScript's; the matcher
 * compiles the same string with `new RegExp`, so what passes here runs there.
 */
export function checkRegex(ctx: ParseContext, regex: string, path: string): boolean {
  try {
    new RegExp(regex);
    return true;
  } catch (error) {
    ctx.report(path, `invalid regex ${describe(regex)}: ${(error as Error).message}`);
    return false;
  }
}

/** A RegexMatcher ({regex, google_re2}) at `fields.<name>`; undefined when absent or invalid (reported). */
export function readRegexMatcher(fields: Fields, name: string): string | undefined {
  const matcher = fields.message(name, REGEX_SPEC);
  const regex = matcher.requiredString("regex");
  if (regex === "" || !checkRegex(fields.ctx, regex, matcher.at("regex"))) return undefined;
  return regex;
}

/** A StringMatcher message at `fields.<name>`. */
export function readStringMatcher(fields: Fields, name: string): StringMatch {
  return stringMatcherOf(fields.message(name, STRING_MATCHER_SPEC));
}

/** A StringMatcher that is an item of a list (e.g. CorsPolicy.allow_origin_string_match[i]). */
export function readStringMatcherItem(ctx: ParseContext, item: Item): StringMatch {
  return stringMatcherOf(Fields.open(ctx, item.value, item.path, STRING_MATCHER_SPEC));
}

function stringMatcherOf(matcher: Fields): StringMatch {
  const kind = matcher.oneOf(["exact", "prefix", "suffix", "contains", "safe_regex"], true);
  const ignoreCase = matcher.bool("ignore_case", false);
  if (kind === undefined) return { kind: "exact", value: "", ignoreCase };
  if (kind === "safe_regex") return { kind: "safe_regex", regex: readRegexMatcher(matcher, "safe_regex") ?? "" };
  const value = kind === "exact" ? (matcher.string(kind) ?? "") : nonEmpty(matcher, kind);
  return { kind, value, ignoreCase };
}

function nonEmpty(fields: Fields, name: string): string {
  const value = fields.string(name);
  if (value === "") fields.report(name, "must not be empty");
  return value ?? "";
}

export function readHeaderMatcher(ctx: ParseContext, item: Item): HeaderMatcher {
  const fields = Fields.open(ctx, item.value, item.path, HEADER_MATCHER_SPEC);
  const name = readMatchableHeaderName(fields);
  const kind = fields.oneOf(
    [
      "string_match",
      "present_match",
      "exact_match",
      "prefix_match",
      "suffix_match",
      "contains_match",
      "safe_regex_match",
    ],
    false,
  );
  let match: HeaderMatcher["match"];
  switch (kind) {
    case "string_match":
      match = readStringMatcher(fields, kind);
      break;
    case "present_match":
      match = { kind: "present", present: fields.bool(kind, true) };
      break;
    case "exact_match":
      match = { kind: "exact", value: fields.string(kind) ?? "", ignoreCase: false };
      break;
    case "prefix_match":
    case "suffix_match":
    case "contains_match":
      match = { kind: kind.slice(0, -"_match".length) as "prefix", value: nonEmpty(fields, kind), ignoreCase: false };
      break;
    case "safe_regex_match":
      match = { kind: "safe_regex", regex: readRegexMatcher(fields, kind) ?? "" };
      break;
    default:
      // Envoy: no match specifier means "the header is present".
      match = { kind: "present", present: true };
  }
  return {
    name,
    match,
    invertMatch: fields.bool("invert_match", false),
    treatMissingAsEmpty: fields.bool("treat_missing_header_as_empty", false),
  };
}

function readMatchableHeaderName(fields: Fields): string {
  const name = fields.requiredString("name");
  if (name !== "" && !MATCHABLE_HEADER_NAME.test(name)) {
    fields.report("name", `expected a header name, got ${describe(name)}`);
  }
  return name.toLowerCase();
}

export function readQueryParameterMatcher(ctx: ParseContext, item: Item): QueryParameterMatcher {
  const fields = Fields.open(ctx, item.value, item.path, QUERY_MATCHER_SPEC);
  const name = fields.requiredString("name");
  const kind = fields.oneOf(["string_match", "present_match"], true);
  if (kind === "string_match") {
    return { name, stringMatch: readStringMatcher(fields, kind), presentMatch: false };
  }
  if (kind === "present_match" && !fields.bool(kind, true)) {
    fields.report(kind, "present_match: false matches nothing; use present_match: true or a string_match");
  }
  return { name, stringMatch: undefined, presentMatch: true };
}
