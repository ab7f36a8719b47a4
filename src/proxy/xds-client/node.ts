// Who the sidecar is, as the control plane reads it (docs/control-plane.md): node.id, node.cluster and the
// metadata NAMESPACE, SERVICE, LABELS (a Struct), INSTANCE_IPS, TRELLIS_OUTBOUND_PORT, TRELLIS_TCP_OUTBOUND_ADDRESS,
// TRELLIS_TCP_OUTBOUND_LISTENERS ("false": none by port number; trellis run binds its own), TRELLIS_RUN_OUTBOUNDS
// ("fqdn:port=localPort,…": the listeners trellis run --outbound asks for), TRELLIS_HTTP_PROXY
// ("true": the app calls through HTTP_PROXY, so the outbound listener takes CONNECT),
// LOCALITY ("region/zone/subzone", also sent as Envoy's node.locality) and INTERCEPTION_MODE ("REDIRECT" for a
// capturing sidecar, as Istio's; absent in explicit mode).
// Istio sends its metadata as strings; so does Trellis (ports too), except LABELS which is a Struct of strings.

import type { NodeInfo } from "../../api/xds/types.ts";

export interface WorkloadIdentity {
  nodeId: string;
  service?: string;
  namespace?: string;
  labels?: Record<string, string>;
  instanceIps?: string[];
  outboundPort?: number;
  tcpOutboundAddress?: string;
  /** The sidecar runs a DNS proxy: metadata DNS_CAPTURE "true" (Istio's ISTIO_META_DNS_CAPTURE); it asks for NDS. */
  dnsCapture?: boolean;
  /** false: the control plane sends no outbound-tcp-<port> listeners (the sidecar binds its TCP destinations). */
  tcpOutboundListeners?: boolean;
  /**
   * `trellis run --outbound`: the service ports (FQDN and port) it binds on 127.0.0.1 ports of its own; the control
   * plane sends each a listener with the service's tcp routes (metadata TRELLIS_RUN_OUTBOUNDS "fqdn:port=local,…").
   */
  runOutbounds?: { host: string; port: number; localPort: number }[];
  /** true: the app reaches the mesh through HTTP_PROXY (trellis run): the outbound listener also takes CONNECT. */
  httpProxy?: boolean;
  /** "region/zone/subzone" (zone and subzone optional): locality failover orders endpoints by it. */
  locality?: string;
  /** "REDIRECT": the sidecar captures its workload's traffic (trellis run --transparent), as Istio's INTERCEPTION_MODE. */
  interceptionMode?: "REDIRECT";
}

export const DEFAULT_OUTBOUND_PORT = 15001;

/** The node a sidecar announces: cluster is `service.namespace`, as Istio's sidecars say it. */
export function nodeFromIdentity(w: WorkloadIdentity): NodeInfo {
  const namespace = w.namespace ?? "default";
  return {
    id: w.nodeId,
    cluster: w.service ? `${w.service}.${namespace}` : "",
    metadata: {
      NAMESPACE: namespace,
      ...(w.service ? { SERVICE: w.service } : {}),
      LABELS: { ...w.labels },
      INSTANCE_IPS: (w.instanceIps ?? ["127.0.0.1"]).join(","),
      TRELLIS_OUTBOUND_PORT: String(w.outboundPort ?? DEFAULT_OUTBOUND_PORT),
      ...(w.dnsCapture === true ? { DNS_CAPTURE: "true" } : {}),
      TRELLIS_TCP_OUTBOUND_ADDRESS: w.tcpOutboundAddress ?? "127.0.0.1",
      ...(w.tcpOutboundListeners === false ? { TRELLIS_TCP_OUTBOUND_LISTENERS: "false" } : {}),
      ...(w.httpProxy === true ? { TRELLIS_HTTP_PROXY: "true" } : {}),
      ...((w.runOutbounds ?? []).length > 0
        ? { TRELLIS_RUN_OUTBOUNDS: w.runOutbounds!.map((o) => `${o.host}:${o.port}=${o.localPort}`).join(",") }
        : {}),
      ...(w.locality ? { LOCALITY: w.locality } : {}),
      ...(w.interceptionMode !== undefined ? { INTERCEPTION_MODE: w.interceptionMode } : {}),
    },
  };
}

type StructValue =
  | { nullValue: "NULL_VALUE" }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: Struct }
  | { listValue: { values: StructValue[] } };

export interface Struct {
  fields: Record<string, StructValue>;
}

/**
 * A JSON object as google.protobuf.Struct in proto-loader's object form. protobufjs defines the well-known types
 * itself, in camelCase (stringValue…), whatever keepCase says.
 */
export function toStruct(obj: Record<string, unknown>): Struct {
  const fields: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: unknown): StructValue {
  if (v === null || v === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  if (typeof v === "object") return { structValue: toStruct(v as Record<string, unknown>) };
  return { stringValue: String(v) };
}

/** The Node message of a DiscoveryRequest. */
export function nodeMessage(node: NodeInfo): Record<string, unknown> {
  const locality = typeof node.metadata.LOCALITY === "string" ? node.metadata.LOCALITY.split("/") : undefined;
  return {
    ...(locality
      ? { locality: { region: locality[0] ?? "", zone: locality[1] ?? "", sub_zone: locality[2] ?? "" } }
      : {}),
    id: node.id,
    cluster: node.cluster,
    metadata: toStruct(node.metadata),
    user_agent_name: "trellis",
    user_agent_version: "0.1.0",
  };
}
