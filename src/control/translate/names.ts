// The names of docs/control-plane.md ("Names"): a promise to users (proxy-config, stats) and to the xDS server.

export const BLACKHOLE_CLUSTER = "BlackHoleCluster";
export const PASSTHROUGH_CLUSTER = "PassthroughCluster";
export const OUTBOUND_HTTP = "outbound-http";

/** outbound|<port>|<subset>|<fqdn> (subset empty when none). */
export function outboundClusterName(port: number, subset: string | undefined, hostname: string): string {
  return `outbound|${port}|${subset ?? ""}|${hostname}`;
}

/** inbound|<appPort>|| — the proxy's own application, on loopback. */
export function inboundClusterName(appPort: number): string {
  return `inbound|${appPort}||`;
}

/** inbound|<appPort>: the route configuration of one inbound HTTP port. */
export function inboundRouteName(appPort: number): string {
  return `inbound|${appPort}`;
}

export function outboundTcpListenerName(port: number): string {
  return `outbound-tcp-${port}`;
}

/** outbound-http-<port>: the inline route configuration of an explicit-mode listener whose port is sniffed. */
export function outboundSniffedRouteName(port: number): string {
  return `outbound-http-${port}`;
}

export function inboundListenerName(sidecarPort: number): string {
  return `inbound-${sidecarPort}`;
}

/** The virtual host of one service port in outbound-http. */
export function virtualHostName(hostname: string, port: number): string {
  return `${hostname}:${port}`;
}

const HTTP_PROTOCOLS = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB"]);
/** Istio's IsHTTP2: gRPC-Web travels to the upstream as gRPC, over HTTP/2. */
const HTTP2_PROTOCOLS = new Set(["HTTP2", "GRPC", "GRPC-WEB"]);

/** Ports routed by the outbound HTTP listener (the rest get TCP listeners). */
export function isHttpProtocol(protocol: string): boolean {
  return HTTP_PROTOCOLS.has(protocol.toUpperCase());
}

/** Ports whose upstream speaks HTTP/2 (clusters get http2_protocol_options). */
export function isHttp2Protocol(protocol: string): boolean {
  return HTTP2_PROTOCOLS.has(protocol.toUpperCase());
}
