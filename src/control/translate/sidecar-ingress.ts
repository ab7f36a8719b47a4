// Sidecar `ingress`: when the Sidecar that applies to a proxy lists ingress listeners, they replace the inbound
// ports the registry knows (Istio: "the sidecar will configure inbound listeners only for these ports"). Each one
// is a listener on `bind` (else the workload's address) at `port.number`, forwarding to `defaultEndpoint` — the
// loopback or the workload's own address at a port — or, when that is unset, to the workload's address at
// `port.targetPort` (else the same port), as Istio does. Its connectionPool (else the Sidecar's
// inboundConnectionPool) sets the inbound cluster's circuit breakers and connect timeout.
// Trellis does not capture traffic, so captureMode IPTABLES cannot be honoured and is reported; a listener that
// would forward to itself (same address and port) and unix:// endpoints (the proxy has no pipe addresses) are left
// out with a problem.

import { parseDefaultEndpoint } from "../../api/resources/sidecar.ts";
import type { ConnectionPoolSettings, Sidecar } from "../../api/resources/types.ts";
import type { Problems } from "./problems.ts";
import type { ProxyIdentity, ProxyPort } from "./proxy-identity.ts";

/**
 * `capture`: the proxy is a capture-mode sidecar (capture-inbound.ts): captureMode IPTABLES is what it does, and a
 * port forwarding to the same port of the workload's address is no loop (the sidecar's own connections are not
 * captured), so neither is reported.
 */
export function sidecarIngressPorts(
  sidecar: Sidecar,
  proxy: ProxyIdentity,
  problems: Problems,
  options: { capture?: boolean } = {},
): ProxyPort[] {
  const capture = options.capture === true;
  const where = `Sidecar ${sidecar.metadata.namespace}/${sidecar.metadata.name}`;
  const workload = proxy.workloadAddress ?? "127.0.0.1";
  const out: ProxyPort[] = [];
  sidecar.spec.ingress.forEach((ingress, i) => {
    const at = `${where} ingress[${i}]`;
    if (ingress.captureMode === "IPTABLES" && !capture) {
      problems.add(`${at}: captureMode IPTABLES is not supported (no traffic capture); the listener binds its port`);
    }
    let appAddress = workload;
    let appPort = ingress.port.targetPort ?? ingress.port.number;
    if (ingress.defaultEndpoint !== undefined) {
      const endpoint = parseDefaultEndpoint(ingress.defaultEndpoint);
      if (typeof endpoint === "string" || endpoint.kind === "unix") {
        problems.add(`${at}: defaultEndpoint ${ingress.defaultEndpoint} is not supported (no unix sockets); left out`);
        return;
      }
      appAddress = endpoint.kind === "loopback" ? (endpoint.ipv6 ? "::1" : "127.0.0.1") : workload;
      appPort = endpoint.port;
    }
    const bind = ingress.bind ?? proxy.workloadAddress ?? "0.0.0.0";
    if (!capture && appPort === ingress.port.number && sameHost(bind, appAddress)) {
      problems.add(
        `${at}: port ${appPort} would forward to itself (set defaultEndpoint or port.targetPort to where the application listens); left out`,
      );
      return;
    }
    const port: ProxyPort = {
      name: ingress.port.name ?? `ingress-${ingress.port.number}`,
      appPort,
      sidecarPort: ingress.port.number,
      protocol: ingress.port.protocol ?? "TCP",
      appAddress,
      bind,
    };
    const pool: ConnectionPoolSettings | undefined = ingress.connectionPool ?? sidecar.spec.inboundConnectionPool;
    if (pool !== undefined) port.connectionPool = pool;
    out.push(port);
  });
  return out;
}

/** A listener on 0.0.0.0 also takes connections to the loopback and to the workload's address. */
function sameHost(bind: string, app: string): boolean {
  return bind === app || bind === "0.0.0.0" || bind === "::";
}
