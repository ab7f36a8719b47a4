// What the xDS client needs from the proxy it feeds (the Proxy implements it; tests may pass a fake).

export interface XdsTarget {
  /**
   * Applies one response's resources (Envoy JSON) of `typeUrl`, all or nothing. Rejects with the reason (every
   * problem, naming resource and field) when anything is wrong; the configuration is then unchanged.
   */
  applyResources(typeUrl: string, versionInfo: string, resources: readonly Record<string, unknown>[]): Promise<void>;
  /** The route configuration names the listeners use: the RDS subscription. */
  routeConfigNames(): string[];
  /** The service names of the EDS clusters: the EDS subscription. */
  edsServiceNames(): string[];
  /** The SDS secret names the listeners' and clusters' TLS contexts use (sds_config ads): the SDS subscription. */
  secretNames?(): string[];
}
