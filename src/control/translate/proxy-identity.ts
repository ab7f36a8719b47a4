// Who a proxy is, from its xDS node (docs/control-plane.md, "Node"): namespace, service, labels, addresses and the
// ports its outbound listeners bind. Translation reads only this, never the raw node.

import type { ConnectionPoolSettings } from "../../api/resources/types.ts";
import type { NodeInfo } from "../../api/xds/types.ts";

/** One port of the proxy's own workload: the application's port and the sidecar's inbound port in front of it. */
export interface ProxyPort {
  name: string;
  appPort: number;
  sidecarPort: number;
  /** Istio's protocol name, upper case (HTTP, HTTP2, GRPC, TCP, …). */
  protocol: string;
  /** Where the application listens; default 127.0.0.1 (a Sidecar ingress's defaultEndpoint may say otherwise). */
  appAddress?: string;
  /** The inbound listener's address; default the workload's address (a Sidecar ingress's `bind`). */
  bind?: string;
  /** A Sidecar ingress's connectionPool (or its inboundConnectionPool): the inbound cluster's limits. */
  connectionPool?: ConnectionPoolSettings;
}

export interface ProxyIdentity {
  /** node.id, unique per sidecar. */
  id: string;
  namespace: string;
  labels: Record<string, string>;
  /** The workload's service name (short, in `namespace`), when it serves one. */
  service?: string;
  /** The workload's address (first of INSTANCE_IPS): where inbound listeners bind. */
  workloadAddress?: string;
  /**
   * "region/zone/subzone": node.locality, else metadata LOCALITY (Istio's ISTIO_META_LOCALITY spelling with "/").
   * Absent: translation takes its registered instance's locality, if any (locality.ts).
   */
  locality?: string;
  /**
   * The workload's own ports. Empty: translate looks the workload up in the world (its service's instance at
   * workloadAddress), where the registry recorded them.
   */
  ports: ProxyPort[];
  /** TRELLIS_OUTBOUND_PORT, default 15001. */
  outboundPort: number;
  /** TRELLIS_TCP_OUTBOUND_ADDRESS, default 127.0.0.1. */
  tcpOutboundAddress: string;
  /**
   * TRELLIS_TCP_OUTBOUND_LISTENERS "false": no outbound-tcp-<port> listeners (nor TLS ones) for this proxy, which
   * binds its declared TCP destinations itself on ports of its own (`trellis run --outbound`, docs/run.md); the
   * clusters still come. Absent: true.
   */
  tcpOutboundListeners?: boolean;
  /**
   * TRELLIS_RUN_OUTBOUNDS "fqdn:port=localPort,…": the service ports `trellis run --outbound` binds on 127.0.0.1,
   * each given a listener with the service's tcp routes (run-outbound.ts). Absent: none.
   */
  runOutbounds?: RunOutbound[];
  /**
   * TRELLIS_HTTP_PROXY "true": the workload calls through HTTP_PROXY (`trellis run`'s explicit mode), so its
   * outbound HTTP listener also answers CONNECT (outbound-connect.ts). Absent: false.
   */
  httpProxy?: boolean;
  /**
   * A proxyless gRPC client (docs/translation.md, "Proxyless gRPC"): it gets api_listeners named by the targets it
   * dials instead of a sidecar's listeners. Absent: a sidecar.
   */
  proxyless?: boolean;
  /**
   * An edge proxy (`trellis gateway`): node type `router` (Istio's node id `router~IP~NAME.NS~NS.svc.cluster.local`,
   * or metadata TRELLIS_NODE_TYPE=router). It gets the listeners of the Gateways that select it (gateway.ts), not a
   * sidecar's. Absent: a sidecar (or a proxyless client).
   */
  router?: boolean;
  /**
   * A router's listening ports: a Gateway server port → the local port it binds (TRELLIS_GATEWAY_PORTS "80:18080,…");
   * a server port not listed binds its own number. Where it binds: `gatewayAddress` (TRELLIS_GATEWAY_ADDRESS, default
   * 127.0.0.1).
   */
  gatewayPorts?: Record<number, number>;
  gatewayAddress?: string;
  /**
   * Istio's INTERCEPTION_MODE: "REDIRECT" means the proxy sits in a network namespace whose traffic iptables
   * captures (docs/translation.md, "Capture mode"): it gets virtualOutbound/virtualInbound instead of the explicit
   * listeners. "TPROXY" is not supported (translation reports it and treats the proxy as explicit). Absent (or
   * "NONE"): explicit mode.
   */
  interceptionMode?: "REDIRECT" | "TPROXY";
}

/** A capture-mode sidecar: INTERCEPTION_MODE REDIRECT. */
export function isCaptureMode(proxy: ProxyIdentity): boolean {
  return proxy.interceptionMode === "REDIRECT";
}

export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_TCP_OUTBOUND_ADDRESS = "127.0.0.1";

/** The identity a node claims. Missing or malformed fields take their defaults (a node is never refused here). */
export function proxyIdentityFromNode(
  node: Pick<NodeInfo, "id" | "metadata"> & { userAgentName?: string; locality?: string },
): ProxyIdentity {
  const m = node.metadata ?? {};
  const namespace = stringOf(m.NAMESPACE) ?? "default";
  const service = stringOf(m.SERVICE);
  const ips = instanceIps(m.INSTANCE_IPS);
  const port = Number(m.TRELLIS_OUTBOUND_PORT);
  const locality = node.locality ?? stringOf(m.LOCALITY);
  return {
    id: node.id,
    namespace,
    labels: labelsOf(m.LABELS),
    ...(service !== undefined ? { service } : {}),
    ...(ips.length > 0 ? { workloadAddress: ips[0] } : {}),
    ...(locality !== undefined ? { locality } : {}),
    ports: [],
    outboundPort: Number.isInteger(port) && port > 0 && port < 65536 ? port : DEFAULT_OUTBOUND_PORT,
    tcpOutboundAddress: stringOf(m.TRELLIS_TCP_OUTBOUND_ADDRESS) ?? DEFAULT_TCP_OUTBOUND_ADDRESS,
    ...(stringOf(m.TRELLIS_TCP_OUTBOUND_LISTENERS) === "false" ? { tcpOutboundListeners: false } : {}),
    ...(stringOf(m.TRELLIS_HTTP_PROXY) === "true" ? { httpProxy: true } : {}),
    ...runOutboundsOf(stringOf(m.TRELLIS_RUN_OUTBOUNDS)),
    ...(isProxyless(m, node.userAgentName) ? { proxyless: true } : {}),
    ...interceptionOf(m.INTERCEPTION_MODE),
    ...(isRouter(node.id, m) ? routerFields(m) : {}),
  };
}

/** Istio's node id is TYPE~IP~ID~DOMAIN with TYPE sidecar or router; Trellis also reads TRELLIS_NODE_TYPE. */
function isRouter(id: string, metadata: Record<string, unknown>): boolean {
  return id.startsWith("router~") || metadata.TRELLIS_NODE_TYPE === "router";
}

function routerFields(m: Record<string, unknown>): Pick<ProxyIdentity, "router" | "gatewayPorts" | "gatewayAddress"> {
  const ports: Record<number, number> = {};
  for (const pair of (stringOf(m.TRELLIS_GATEWAY_PORTS) ?? "").split(",")) {
    const [p, l] = pair.split(":").map((x) => Number(x.trim()));
    if (isPort(p) && isPort(l)) ports[p!] = l!;
  }
  return { router: true, gatewayPorts: ports, gatewayAddress: stringOf(m.TRELLIS_GATEWAY_ADDRESS) ?? "127.0.0.1" };
}

function isPort(n: number | undefined): boolean {
  return n !== undefined && Number.isInteger(n) && n >= 0 && n < 65536;
}

/**
 * Istio picks its gRPC generator by the node's metadata GENERATOR=grpc; a gRPC library's xDS client also says who it
 * is in user_agent_name ("gRPC Node Pure JS", "gRPC Go", "gRPC Java", "gRPC C-core …"), so a bootstrap written
 * without Istio's metadata still works. Envoy says "envoy", Trellis's sidecar "trellis".
 */
function isProxyless(metadata: Record<string, unknown>, userAgentName: string | undefined): boolean {
  if (typeof metadata.GENERATOR === "string" && metadata.GENERATOR.toLowerCase() === "grpc") return true;
  return userAgentName !== undefined && /^grpc\b/i.test(userAgentName);
}

/** INTERCEPTION_MODE as Istio writes it (upper case); NONE or anything else is explicit mode. */
function interceptionOf(value: unknown): Pick<ProxyIdentity, "interceptionMode"> {
  const mode = typeof value === "string" ? value.trim().toUpperCase() : "";
  return mode === "REDIRECT" || mode === "TPROXY" ? { interceptionMode: mode } : {};
}

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** Istio writes INSTANCE_IPS as "10.0.0.1,fd00::1"; a list is accepted too. */
function instanceIps(value: unknown): string[] {
  const parts = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : [];
  return parts
    .filter((p): p is string => typeof p === "string")
    .map((p) => p.trim())
    .filter((p) => p !== "");
}

function labelsOf(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

/** One `trellis run --outbound`: the service port it names and the local port its sidecar listens on. */
export interface RunOutbound {
  /** The service's FQDN (as trellis run resolved HOST). */
  host: string;
  port: number;
  localPort: number;
}

/** TRELLIS_RUN_OUTBOUNDS: entries "fqdn:port=localPort" joined by ","; an entry not of that form is left out. */
function runOutboundsOf(text: string | undefined): { runOutbounds?: RunOutbound[] } {
  const out: RunOutbound[] = [];
  for (const entry of (text ?? "").split(",")) {
    const m = /^([^:=,\s]+):(\d{1,5})=(\d{1,5})$/.exec(entry.trim());
    if (m === null) continue;
    const port = Number(m[2]);
    const localPort = Number(m[3]);
    if (port < 1 || port > 65_535 || localPort < 1 || localPort > 65_535) continue;
    out.push({ host: m[1]!, port, localPort });
  }
  return out.length > 0 ? { runOutbounds: out } : {};
}
