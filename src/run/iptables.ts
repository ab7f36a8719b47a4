// The nat rules inside a `trellis run --transparent` namespace, as Istio's istio-iptables builds them
// (tools/istio-iptables/pkg/capture/run.go), loaded with one iptables-restore (all or nothing):
//
//   inbound   PREROUTING → TRELLIS_INBOUND: TCP to any port but the sidecar's own → TRELLIS_IN_REDIRECT → 15006
//   outbound  OUTPUT → TRELLIS_OUTPUT: the sidecar's own traffic (gid 1337) returns; the app's traffic to its own
//             address (through lo) stays local; to 127.0.0.1 stays local; everything else → TRELLIS_REDIRECT → 15001
//   DNS       UDP and TCP to port 53 not from gid 1337 → 15053 (the sidecar's DNS proxy), when it runs
//
// The sidecar runs under gid 1337 (uid stays root: test/support/netns.ts says why), so `--gid-owner` is what
// excludes it, as istio-iptables accepts a gid as well as a uid.

export const SIDECAR_GID = 1337;
export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_CAPTURE_PORT = 15006;
export const DNS_CAPTURE_PORT = 15053;
export const ADMIN_PORT = 15000;
/** Ports of the sidecar itself that inbound capture leaves alone (Istio's 15090 stats, 15021 health, …). */
export const INBOUND_EXCLUDED_PORTS = [
  OUTBOUND_CAPTURE_PORT,
  INBOUND_CAPTURE_PORT,
  DNS_CAPTURE_PORT,
  ADMIN_PORT,
  15021,
  15090,
];

export const CHAINS = ["TRELLIS_INBOUND", "TRELLIS_IN_REDIRECT", "TRELLIS_OUTPUT", "TRELLIS_REDIRECT"] as const;

/** The iptables-restore input for the namespace's nat table. */
export function captureRules(options: { dns: boolean; gid?: number }): string {
  const gid = String(options.gid ?? SIDECAR_GID);
  const lines = ["*nat", ...CHAINS.map((c) => `:${c} - [0:0]`)];
  lines.push(`-A PREROUTING -p tcp -j TRELLIS_INBOUND`);
  lines.push(`-A OUTPUT -p tcp -j TRELLIS_OUTPUT`);
  if (options.dns)
    lines.push(`-A OUTPUT -p udp --dport 53 -m owner ! --gid-owner ${gid} -j REDIRECT --to-ports ${DNS_CAPTURE_PORT}`);
  for (const port of INBOUND_EXCLUDED_PORTS) lines.push(`-A TRELLIS_INBOUND -p tcp --dport ${port} -j RETURN`);
  lines.push(`-A TRELLIS_INBOUND -p tcp -j TRELLIS_IN_REDIRECT`);
  lines.push(`-A TRELLIS_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${INBOUND_CAPTURE_PORT}`);
  // The DNS proxy answers TCP too; resolv.conf names 127.0.0.1, so this comes before lo's RETURN.
  if (options.dns)
    lines.push(
      `-A TRELLIS_OUTPUT -p tcp --dport 53 -m owner ! --gid-owner ${gid} -j REDIRECT --to-ports ${DNS_CAPTURE_PORT}`,
    );
  // Istio's: the sidecar calling the app's own address through lo goes to the inbound side; the app calling its own
  // address stays local; the sidecar's other traffic leaves as it is.
  lines.push(`-A TRELLIS_OUTPUT ! -d 127.0.0.1/32 -o lo -p tcp -m owner --gid-owner ${gid} -j TRELLIS_IN_REDIRECT`);
  lines.push(`-A TRELLIS_OUTPUT -o lo -m owner ! --gid-owner ${gid} -j RETURN`);
  lines.push(`-A TRELLIS_OUTPUT -m owner --gid-owner ${gid} -j RETURN`);
  lines.push(`-A TRELLIS_OUTPUT -d 127.0.0.1/32 -j RETURN`);
  lines.push(`-A TRELLIS_OUTPUT -j TRELLIS_REDIRECT`);
  lines.push(`-A TRELLIS_REDIRECT -p tcp -j REDIRECT --to-ports ${OUTBOUND_CAPTURE_PORT}`);
  lines.push("COMMIT", "");
  return lines.join("\n");
}

/** `/etc/netns/<name>/resolv.conf`: a Kubernetes pod's, the DNS proxy at 127.0.0.1 (else the host's servers). */
export function resolvConf(namespace: string, nameservers: readonly string[]): string {
  return (
    nameservers.map((n) => `nameserver ${n}`).join("\n") +
    `\nsearch ${namespace}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`
  );
}

/** The nameservers of a resolv.conf text that a network namespace can reach (not loopback ones). */
export function reachableNameservers(text: string): string[] {
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)]
    .map((m) => m[1]!)
    .filter((ip) => !ip.startsWith("127.") && ip !== "::1");
}
