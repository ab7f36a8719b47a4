// Protocol sniffing (Istio's "Protocol Selection" for a port with no declared protocol): such a port's listener gets
// the tls_inspector and http_inspector listener filters and two filter chains, as pilot builds them for
// protocol.Unsupported: plaintext HTTP (transport_protocol raw_buffer, application_protocols http/1.0, http/1.1,
// h2c) → an HTTP connection manager routing as the service's HTTP port would, anything else → tcp_proxy.
// MeshConfig.protocolDetectionTimeout becomes listener_filters_timeout with continue_on_listener_filters_timeout:
// a server-first protocol (the client sends nothing) goes to the TCP chain once it passes; Istio's default 0s is no
// timeout, which is why such ports should be declared. Where one listener holds sniffed and declared ports
// (capture mode's virtualInbound), the inspectors are disabled (filter_disabled) for every port but the sniffed ones.

import type { Json } from "./envoy.ts";
import { duration, socketAddress } from "./envoy.ts";
import { tlsInspector } from "./outbound-tls.ts";

/** The model's protocol of a port whose protocol is neither written nor named: detected per connection. */
export const AUTO_PROTOCOL = "AUTO";

/** Istio's plaintextHTTPALPNs: what the http_inspector reports for plaintext HTTP. */
export const PLAINTEXT_HTTP_ALPNS = ["http/1.0", "http/1.1", "h2c"] as const;

export const HTTP_INSPECTOR_NAME = "envoy.filters.listener.http_inspector";
export const HTTP_INSPECTOR_TYPE =
  "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector";

export function isSniffedProtocol(protocol: string): boolean {
  return protocol.toUpperCase() === AUTO_PROTOCOL;
}

export function httpInspector(): Json {
  return { name: HTTP_INSPECTOR_NAME, typed_config: { "@type": HTTP_INSPECTOR_TYPE } };
}

/**
 * The chains of a sniffed port, each within `match` (capture mode's destination_port): plaintext HTTP as the
 * http_inspector found it → the connection manager; other plaintext (and a connection whose detection timed out) →
 * tcp_proxy; anything else (TLS the tls_inspector saw) → tcp_proxy. Envoy matches transport_protocol before
 * application_protocols and does not step back: a raw_buffer connection that is not HTTP would find no chain at
 * the raw_buffer level without the second one (Istio's inbound chains have the same pair).
 */
export function sniffingChains(hcm: Json, tcp: Json, match: Json = {}): Json[] {
  const http = { ...match, transport_protocol: "raw_buffer", application_protocols: [...PLAINTEXT_HTTP_ALPNS] };
  const plain = { ...match, transport_protocol: "raw_buffer" };
  const rest: Json = { filters: [tcp] };
  if (Object.keys(match).length > 0) rest.filter_chain_match = { ...match };
  return [{ filter_chain_match: http, filters: [hcm] }, { filter_chain_match: plain, filters: [tcp] }, rest];
}

/** The listener filters and timeouts of a listener with a sniffed port (MeshConfig.protocolDetectionTimeout). */
export function sniffingListenerFields(detectionTimeoutMs: number): Json {
  return {
    listener_filters: [tlsInspector(), httpInspector()],
    listener_filters_timeout: duration(detectionTimeoutMs),
    continue_on_listener_filters_timeout: true,
  };
}

/** A listener of its own for one sniffed port, with its chains (sniffingChains). */
export function sniffingListener(
  name: string,
  address: string,
  port: number,
  hcm: Json,
  tcp: Json,
  detectionTimeoutMs: number,
): Json {
  return {
    name,
    address: socketAddress(address, port),
    ...sniffingListenerFields(detectionTimeoutMs),
    filter_chains: sniffingChains(hcm, tcp),
  };
}

/**
 * A listener filter's filter_disabled (Envoy's ListenerFilterChainMatchPredicate) that turns it off for every
 * destination port but `ports` (Istio's listenerPredicateIncludePorts): not_match of their ranges [p, p + 1), one
 * or_match when there are several. On virtualInbound the inspectors then look only at sniffed ports: a declared
 * port of a server-first protocol (the client waits for the server's greeting) is never held for bytes.
 */
export function enabledOnlyOnPorts(ports: readonly number[]): Json {
  const ranges = [...new Set(ports)]
    .sort((a, b) => a - b)
    .map((p) => ({ destination_port_range: { start: p, end: p + 1 } }));
  const matched = ranges.length === 1 ? ranges[0]! : { or_match: { rules: ranges } };
  return { not_match: matched };
}

/** Istio's setUseDownstreamProtocol for a sniffed port's cluster: HTTP/2 upstream when the request came as h2c. */
export function useDownstreamProtocol(): Json {
  return { use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} } };
}
