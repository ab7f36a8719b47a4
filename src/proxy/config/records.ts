// What /config_dump shows of a dynamic resource, as Envoy does: the resource as received, the version of the
// response that brought it, and when it was applied.

export interface DynamicRecord {
  name: string;
  versionInfo: string;
  raw: Record<string, unknown>;
  fingerprint: string;
  /** RFC 3339, as Envoy's last_updated. */
  lastUpdated: string;
}

export function makeRecord(
  resource: { name: string; raw: Record<string, unknown>; fingerprint: string },
  versionInfo: string,
  wallNowMs: number,
): DynamicRecord {
  return {
    name: resource.name,
    versionInfo,
    raw: resource.raw,
    fingerprint: resource.fingerprint,
    lastUpdated: new Date(wallNowMs).toISOString(),
  };
}
