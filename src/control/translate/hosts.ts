// Host names as Istio reads them: a short name resolves in the namespace of the resource that wrote it, a
// wildcard ("*", "*.example.com") matches by suffix, and exportTo decides which namespaces see a resource.

import { serviceFqdn } from "./world.ts";

/** "reviews" written in namespace "default" → reviews.default.svc.cluster.local; names with a dot stay as written. */
export function resolveHost(host: string, namespace: string): string {
  const lower = host.toLowerCase();
  if (lower === "*" || lower.includes(".")) return lower;
  return serviceFqdn(lower, namespace);
}

/** Whether `pattern` (exact or wildcard) covers the concrete `hostname`. */
export function hostMatches(pattern: string, hostname: string): boolean {
  const p = pattern.toLowerCase();
  const h = hostname.toLowerCase();
  if (p === "*") return true;
  // Istio's host.Name.Matches: any leading "*" is a suffix match ("*.example.com", and the partial "*-api.example.com").
  if (p.startsWith("*")) return h.endsWith(p.slice(1));
  return p === h;
}

/**
 * Istio's exportTo: empty or "*" = every namespace, "." = the owner's namespace only, "~" = none, a name = that
 * namespace.
 */
export function exportedTo(exportTo: readonly string[] | undefined, owner: string, namespace: string): boolean {
  if (exportTo === undefined || exportTo.length === 0) return true;
  return exportTo.some((e) => e === "*" || (e === "." && owner === namespace) || e === namespace);
}
