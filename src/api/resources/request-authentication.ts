// RequestAuthentication (security.istio.io): which JWTs a workload accepts (issuer, audiences, keys, where the
// token is found).

import type { JWTRule, RequestAuthenticationSpec } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { readLabelSelector, readTargetRefs } from "./common.ts";
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
  if (spec.selector !== undefined && spec.targetRefs.length > 0)
    f.ctx.error(path, "only one of selector, targetRefs may be set");
  return spec;
}

function readJwtRule(f: SpecFields): JWTRule {
  f.oneOf(["jwksUri", "jwks"], false);
  const rule: JWTRule = {
    issuer: f.requiredString("issuer"),
    audiences: f.stringList("audiences"),
    fromHeaders: f.list("fromHeaders").map((item) => {
      const h = SpecFields.open(f.ctx, item.value, item.path, { known: ["name", "prefix"] });
      const header: JWTRule["fromHeaders"][number] = { name: h.requiredString("name") };
      assign(header, "prefix", h.string("prefix"));
      return header;
    }),
    fromParams: f.stringList("fromParams"),
    fromCookies: f.stringList("fromCookies"),
    outputClaimToHeaders: f.list("outputClaimToHeaders").map((item) => {
      const c = SpecFields.open(f.ctx, item.value, item.path, { known: ["header", "claim"] });
      return { header: c.requiredString("header"), claim: c.requiredString("claim") };
    }),
  };
  const jwksUri = f.string("jwksUri");
  if (jwksUri !== undefined) {
    if (!/^https?:\/\/[^/]+/.test(jwksUri))
      f.error("jwksUri", `expected an http:// or https:// URL, got ${describe(jwksUri)}`);
    rule.jwksUri = jwksUri;
  }
  assign(rule, "jwks", f.string("jwks"));
  assign(rule, "outputPayloadToHeader", f.string("outputPayloadToHeader"));
  assign(rule, "forwardOriginalToken", f.bool("forwardOriginalToken"));
  assign(rule, "timeout", f.duration("timeout", 1));
  return rule;
}
