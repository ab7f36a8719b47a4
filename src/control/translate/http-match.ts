// An Istio HTTPMatchRequest → an Envoy RouteMatch: uri (exact → path, prefix, regex → safe_regex), ignoreUriCase,
// headers and withoutHeaders (inverted), method/authority/scheme as pseudo-headers, queryParams. Whether a match
// applies to a proxy at all (sourceLabels, sourceNamespace, port, gateways) is decided by `matchAppliesTo`.

import type { HTTPMatchRequest, StringMatch } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import { labelsMatch } from "./labels.ts";
import type { Problems } from "./problems.ts";

/**
 * Whether a match can ever hold for requests from this proxy to this port (else the match is left out). `gateway`:
 * translating for a gateway server (gateway.ts), the Gateway's "namespace/name" and the namespace the match's
 * VirtualService is in (short gateway names resolve there); absent, the proxy is a sidecar ("mesh").
 */
export function matchAppliesTo(
  match: HTTPMatchRequest,
  proxy: { namespace: string; labels: Record<string, string> },
  port: number,
  gateway?: GatewayScope,
): boolean {
  if (match.port !== undefined && match.port !== port) return false;
  if (!labelsMatch(match.sourceLabels ?? {}, proxy.labels)) return false;
  if (match.sourceNamespace !== undefined && match.sourceNamespace !== proxy.namespace) return false;
  return gatewaysApply(match.gateways ?? [], gateway);
}

/** The gateway a route is being translated for, and the namespace of the VirtualService whose match is read. */
export interface GatewayScope {
  gateway: string;
  namespace: string;
}

/** A match's `gateways`: empty applies everywhere; else "mesh" for sidecars, the gateway's name for a gateway. */
export function gatewaysApply(gateways: readonly string[], scope: GatewayScope | undefined): boolean {
  if (gateways.length === 0) return true;
  if (scope === undefined) return gateways.includes("mesh");
  return gateways.some((g) => g !== "mesh" && qualifiedGateway(g, scope.namespace) === scope.gateway);
}

/** A VirtualService's gateway reference as "namespace/name": a short name is in the VirtualService's namespace. */
export function qualifiedGateway(ref: string, namespace: string): string {
  return ref.includes("/") ? ref : `${namespace}/${ref}`;
}

/** Whether the uri match is an exact one (Istio rewrites those with regex_rewrite). */
export function isExactUri(match: HTTPMatchRequest | undefined): boolean {
  return match?.uri?.exact !== undefined;
}

export function routeMatch(match: HTTPMatchRequest | undefined, where: string, problems: Problems): Json {
  const out: Json = {};
  const uri = match?.uri;
  if (uri?.exact !== undefined) out.path = uri.exact;
  else if (uri?.regex !== undefined) out.safe_regex = { regex: uri.regex };
  else out.prefix = uri?.prefix ?? "/";
  if (match?.ignoreUriCase === true) {
    if (uri?.regex !== undefined) problems.add(`${where}: ignoreUriCase does not apply to a regex uri match; ignored`);
    else out.case_sensitive = false;
  }
  const headers: Json[] = [];
  for (const [name, value] of Object.entries(match?.headers ?? {})) {
    headers.push(headerMatcher(name.toLowerCase(), value, false));
  }
  for (const [name, value] of Object.entries(match?.withoutHeaders ?? {})) {
    headers.push(headerMatcher(name.toLowerCase(), value, true));
  }
  if (match?.method !== undefined) headers.push(headerMatcher(":method", match.method, false));
  if (match?.authority !== undefined) headers.push(headerMatcher(":authority", match.authority, false));
  if (match?.scheme !== undefined) headers.push(headerMatcher(":scheme", match.scheme, false));
  if (headers.length > 0) out.headers = headers;
  const query: Json[] = [];
  for (const [name, value] of Object.entries(match?.queryParams ?? {})) {
    const sm = stringMatcher(value);
    query.push(sm === undefined ? { name, present_match: true } : { name, string_match: sm });
  }
  if (query.length > 0) out.query_parameters = query;
  return out;
}

/** An Istio StringMatch as an Envoy StringMatcher; undefined for an empty one ("present"). */
export function stringMatcher(m: StringMatch): Json | undefined {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined && m.prefix !== "") return { prefix: m.prefix };
  if (m.regex !== undefined) return { safe_regex: { regex: m.regex } };
  return undefined;
}

function headerMatcher(name: string, m: StringMatch, invert: boolean): Json {
  const sm = stringMatcher(m);
  const out: Json = { name };
  if (sm === undefined) out.present_match = true;
  else out.string_match = sm;
  if (invert) out.invert_match = true;
  return out;
}
