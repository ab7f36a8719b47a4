// RequestAuthentication (security.istio.io): which JWTs a workload accepts (issuer, audiences, keys, where the
// token is found).

import type { JWTRule, RequestAuthenticationSpec } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { checkOneTarget, readLabelSelector, readTargetRefs } from "./common.ts";
import { assign } from "./traffic-policy.ts";
import { describe } from "../xds/parse/context.ts";

const JWT_RULE = {
  known: [
    "issuer",
    "audiences",
    "jwksUri",
    "jwks",
    "fromHeaders",
    "fromParams",
    "fromCookies",
    "outputPayloadToHeader",
    "outputClaimToHeaders",
    "forwardOriginalToken",
    "timeout",
  ],
};

export function readRequestAuthenticationSpec(
  ctx: ResourceContext,
  raw: unknown,
  path: string,
): RequestAuthenticationSpec {
  const f = SpecFields.open(ctx, raw, path, { known: ["selector", "targetRef", "targetRefs", "jwtRules"] });
  const spec: RequestAuthenticationSpec = {
    targetRefs: readTargetRefs(f),
    jwtRules: f.list("jwtRules").map((item) => readJwtRule(SpecFields.open(ctx, item.value, item.path, JWT_RULE))),
  };
  if (f.has("selector")) spec.selector = readLabelSelector(ctx, f.raw("selector"), f.at("selector"));
  checkOneTarget(f, spec.selector, spec.targetRefs);
  return spec;
}

/** Istio's strict header name, for headers a JWT claim is copied into. */
const STRICT_HEADER_NAME = /^[-_A-Za-z0-9]+$/;

function readJwtRule(f: SpecFields): JWTRule {
  f.oneOf(["jwksUri", "jwks"], false);
  // Istio: an issuer, or a jwksUri to find the keys by (the issuer is then not checked).
  const issuer = f.string("issuer") ?? "";
  if (!f.broken && issuer === "" && !f.has("jwksUri")) {
    f.error("issuer", f.has("issuer") ? "must not be empty (or give a jwksUri)" : "required (or give a jwksUri)");
  }
  const rule: JWTRule = {
    issuer,
    audiences: nonEmptyStrings(f, "audiences", "an audience"),
    fromHeaders: f.list("fromHeaders").map((item) => {
      const h = SpecFields.open(f.ctx, item.value, item.path, { known: ["name", "prefix"] });
      const header: JWTRule["fromHeaders"][number] = { name: h.requiredString("name") };
      assign(header, "prefix", h.string("prefix"));
      return header;
    }),
    fromParams: nonEmptyStrings(f, "fromParams", "a query parameter name"),
    fromCookies: nonEmptyStrings(f, "fromCookies", "a cookie name"),
    outputClaimToHeaders: f.list("outputClaimToHeaders").map((item) => {
      const c = SpecFields.open(f.ctx, item.value, item.path, { known: ["header", "claim"] });
      if (item.value === null || item.value === undefined) f.ctx.error(item.path, "expected {header, claim}, got null");
      const out = { header: c.requiredString("header"), claim: c.requiredString("claim") };
      if (out.header !== "" && !STRICT_HEADER_NAME.test(out.header))
        c.error("header", `expected a header name of letters, digits, "-" and "_", got ${describe(out.header)}`);
      return out;
    }),
  };
  const jwksUri = f.string("jwksUri");
  if (jwksUri !== undefined) {
    if (!isHttpUrl(jwksUri)) f.error("jwksUri", `expected an http:// or https:// URL, got ${describe(jwksUri)}`);
    rule.jwksUri = jwksUri;
  }
  const jwks = f.string("jwks");
  if (jwks !== undefined) {
    if (!isJwks(jwks)) f.error("jwks", "expected a JSON Web Key Set (a JSON object with keys, or one key with kty)");
    rule.jwks = jwks;
  }
  assign(rule, "outputPayloadToHeader", f.string("outputPayloadToHeader"));
  assign(rule, "forwardOriginalToken", f.bool("forwardOriginalToken"));
  assign(rule, "timeout", f.duration("timeout", 1));
  return rule;
}

function nonEmptyStrings(f: SpecFields, name: string, what: string): string[] {
  const values = f.stringList(name);
  values.forEach((value, i) => {
    if (value === "") f.ctx.error(`${f.at(name)}[${i}]`, `expected ${what}, got an empty string`);
  });
  return values;
}

/** An http(s) URL with a host and, if any, a numeric port (Istio parses it and refuses the rest). */
function isHttpUrl(text: string): boolean {
  if (!/^https?:\/\/[^/]+/.test(text)) return false;
  try {
    const url = new URL(text);
    return url.hostname !== "";
  } catch {
    return false;
  }
}

function isJwks(text: string): boolean {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
    const set = value as { keys?: unknown; kty?: unknown };
    return Array.isArray(set.keys) || typeof set.kty === "string";
  } catch {
    return false;
  }
}
