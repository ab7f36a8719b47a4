// Host names as Istio compares them: a short name written in a resource of namespace ns means
// name.ns.svc.cluster.local; "name.ns" means name.ns.svc.cluster.local; anything with more dots is taken as written.

export const CLUSTER_DOMAIN = "svc.cluster.local";

export function fqdn(host: string, namespace: string): string {
  if (host === "*" || host.startsWith("*.")) return host;
  const dots = host.split(".").length - 1;
  if (dots === 0) return `${host}.${namespace}.${CLUSTER_DOMAIN}`;
  if (dots === 1) return `${host}.${CLUSTER_DOMAIN}`;
  return host;
}

/** Whether `pattern` (possibly "*.example.com" or "*") covers `host`. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1));
  return pattern === host;
}
