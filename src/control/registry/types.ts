// Workloads that register themselves (`trellis run` does it for the process it starts), like Eureka's instances:
// who they are, where they listen, and a lease they renew by heartbeat.

/** AUTO: no declared protocol; the sidecars detect HTTP per connection (protocol sniffing). */
export type PortProtocol = "HTTP" | "HTTP2" | "GRPC" | "TCP" | "TLS" | "HTTPS" | "AUTO";

export interface InstancePort {
  /** The port's name in the service (e.g. "http"); defaults to the protocol in lower case and the number. */
  name: string;
  /** Where the application listens. */
  number: number;
  /**
   * The number callers of the service use (`http://name:servicePort/`), when it differs from where this instance's
   * application listens (`trellis run --port 8080` hands the application a free port). Default: `number`.
   */
  servicePort?: number;
  protocol: PortProtocol;
  /** Where the workload's sidecar accepts this port's inbound traffic (absent: no sidecar; callers go direct). */
  sidecarPort: number | undefined;
}

/** What a workload sends to register. */
export interface Registration {
  service: string;
  namespace: string;
  /** Labels, `version` among them (subsets select on it). */
  labels: Record<string, string>;
  /** The address other workloads reach it at (an IP). */
  address: string;
  ports: InstancePort[];
  serviceAccount: string;
  /** The sidecar's node id, when it has one (ties the instance to its proxy in proxy-status). */
  nodeId: string | undefined;
  /** "region/zone/subzone" (any may be empty), as Istio writes localities; locality failover uses it. */
  locality?: string;
}

export interface Instance extends Registration {
  /** Stable id: service.namespace/address:firstPort unless the registration named one. */
  id: string;
  /** Wall-clock milliseconds of registration and of the last heartbeat; the lease runs from the latter. */
  registeredAt: number;
  renewedAt: number;
  /** The lease: the instance is removed when no heartbeat came for this long. */
  leaseMs: number;
}

export type RegistryEvent = { kind: "registered" | "renewed" | "removed"; instance: Instance; reason?: string };
