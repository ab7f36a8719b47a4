// Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection and are never forwarded. The list is Envoy's:
// Proxy-Authenticate and Proxy-Authorization pass through (Envoy forwards them; a chain of proxies may need them),
// and TE is kept when it says only "trailers", which gRPC needs end to end.

import type { Headers } from "../http/headers.ts";

export function isHopByHop(name: string): boolean {
  switch (name) {
    case "connection":
    case "keep-alive":
    case "proxy-connection":
    case "transfer-encoding":
    case "te":
    case "trailer":
    case "upgrade":
    case "http2-settings":
      return true;
    default:
      return false;
  }
}

function isTrailersOnly(value: string): boolean {
  return value.length === 8 ? value.toLowerCase() === "trailers" : value.trim().toLowerCase() === "trailers";
}

/**
 * Removes, in place, every hop-by-hop field and every field the message's Connection nominated
 * (`connectionTokens`, lower-case, from the parsed head), except "te: trailers".
 */
export function stripHopByHop(headers: Headers, connectionTokens: readonly string[] | undefined): void {
  const l = headers.list;
  let w = 0;
  for (let r = 0; r < l.length; r += 2) {
    const name = l[r]!;
    const value = l[r + 1]!;
    if (isHopByHop(name) && !(name === "te" && isTrailersOnly(value))) continue;
    if (connectionTokens !== undefined && connectionTokens.includes(name)) continue;
    if (w !== r) {
      l[w] = name;
      l[w + 1] = value;
    }
    w += 2;
  }
  l.length = w;
}
