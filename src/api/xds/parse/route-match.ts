// RouteMatch: exactly one path specifier (or connect_matcher, for CONNECT requests), plus headers, query
// parameters and gRPC.

import type { PathMatch, RouteMatch } from "../types.ts";
import { describe } from "./context.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import { readHeaderMatcher, readQueryParameterMatcher, readRegexMatcher } from "./matchers.ts";

const MATCH_SPEC = {
  handled: [
    "prefix",
    "path",
    "safe_regex",
    "path_separated_prefix",
    "connect_matcher",
    "case_sensitive",
    "headers",
    "query_parameters",
    "grpc",
  ],
  unsupported: ["path_match_policy", "runtime_fraction", "tls_context", "dynamic_metadata", "filter_state", "cookies"],
} as const;

/** GrpcRouteMatchOptions has no fields. */
const GRPC_SPEC = { handled: [] } as const;

const PATH_KINDS = ["prefix", "path", "safe_regex", "path_separated_prefix", "connect_matcher"] as const;

/** ConnectMatcher has no fields. */
const CONNECT_SPEC = { handled: [] } as const;

export function readRouteMatch(ctx: ParseContext, raw: unknown, path: string): RouteMatch {
  const match = Fields.open(ctx, raw, path, MATCH_SPEC);
  const kind = match.oneOf(PATH_KINDS, true);
  return {
    path: readPathMatch(match, kind),
    caseSensitive: match.bool("case_sensitive", true),
    headers: match.list("headers").map((item) => readHeaderMatcher(ctx, item)),
    queryParameters: match.list("query_parameters").map((item) => readQueryParameterMatcher(ctx, item)),
    grpc: readGrpc(match),
  };
}

function readPathMatch(match: Fields, kind: string | undefined): PathMatch {
  switch (kind) {
    case "path":
      return { kind: "path", value: match.string("path") ?? "" };
    case "safe_regex":
      return { kind: "safe_regex", regex: readRegexMatcher(match, "safe_regex") ?? "" };
    case "connect_matcher":
      match.message("connect_matcher", CONNECT_SPEC);
      return { kind: "connect" };
    case "path_separated_prefix": {
      const value = match.string(kind) ?? "";
      if (!/^\/[^?#]*$/.test(value) || value.endsWith("/")) {
        match.report(
          kind,
          `expected a path that starts with "/", does not end with "/" and has no ? or #, got ${describe(value)}`,
        );
      }
      return { kind: "path_separated_prefix", value };
    }
    default:
      return { kind: "prefix", value: match.string("prefix") ?? "" };
  }
}

function readGrpc(match: Fields): boolean {
  if (!match.has("grpc")) return false;
  match.message("grpc", GRPC_SPEC);
  return true;
}
