// The benchmark's mesh: S services in namespace default, each an HTTP service on port 8080; N sidecars, sidecar j an
// instance of service j mod S (so 2000 sidecars over 1000 services are two instances each), registered in the
// registry with its node id as `trellis run` would register it. Services without a sidecar get one instance
// without. The change is a VirtualService edit: svc-0's retry attempts.

import type { Registration } from "../../src/control/registry/types.ts";

export const NAMESPACE = "default";

export function serviceName(i: number): string {
  return `svc-${i}`;
}

export function hostOf(i: number): string {
  return `${serviceName(i)}.${NAMESPACE}.svc.cluster.local`;
}

/** Envoy's cluster name for service i's port 8080, as translation names it. */
export function clusterOf(i: number): string {
  return `outbound|8080||${hostOf(i)}`;
}

export function nodeIdOf(j: number): string {
  return `sidecar-${j}`;
}

/** A distinct address per instance, 10.x.y.z. */
export function addressOf(j: number): string {
  return `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`;
}

/** What sidecar j says about itself in its xDS node metadata. */
export function nodeMetadataOf(j: number, services: number): Record<string, unknown> {
  const i = j % services;
  return {
    NAMESPACE,
    SERVICE: serviceName(i),
    INSTANCE_IPS: addressOf(j),
    LABELS: { app: serviceName(i), version: "v1" },
  };
}

/** The registry's instances: one per sidecar, and one (no sidecar) for each service no sidecar serves. */
export function registrations(services: number, sidecars: number): Registration[] {
  const out: Registration[] = [];
  const instance = (i: number, address: string, nodeId: string | undefined): Registration => ({
    service: serviceName(i),
    namespace: NAMESPACE,
    labels: { app: serviceName(i), version: "v1" },
    address,
    ports: [{ name: "http", number: 8080, protocol: "HTTP", sidecarPort: nodeId === undefined ? undefined : 15006 }],
    serviceAccount: "default",
    nodeId,
  });
  for (let j = 0; j < sidecars; j++) out.push(instance(j % services, addressOf(j), nodeIdOf(j)));
  for (let i = sidecars; i < services; i++) out.push(instance(i, addressOf(100_000 + i), undefined));
  return out;
}

/** The VirtualService the change edits: svc-0's retries, `attempts` of them. */
export function virtualServiceYaml(attempts: number): string {
  return [
    "apiVersion: networking.istio.io/v1",
    "kind: VirtualService",
    "metadata: { name: svc-0, namespace: default }",
    "spec:",
    "  hosts: [svc-0]",
    "  http:",
    `  - retries: { attempts: ${attempts}, perTryTimeout: 2s, retryOn: 5xx }`,
    "    route: [{ destination: { host: svc-0 } }]",
    "",
  ].join("\n");
}

/**
 * A namespace-wide Sidecar that limits every proxy's egress to the first `visible` services (Istio's advice for
 * large meshes: a proxy gets only what it calls).
 */
export function sidecarYaml(visible: number): string {
  return [
    "apiVersion: networking.istio.io/v1",
    "kind: Sidecar",
    "metadata: { name: default, namespace: default }",
    "spec:",
    "  egress:",
    "  - hosts:",
    ...Array.from({ length: visible }, (_, i) => `    - ./${hostOf(i)}`),
    "",
  ].join("\n");
}
