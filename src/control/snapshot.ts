// The xDS types a sidecar's snapshot holds (the NameTable for capture-mode sidecars only), by the short names `trellis proxy-config` uses. Snapshots
// themselves are built in snapshot-cache.ts.

import { SECRET_TYPE_URL } from "../api/xds/parse/secret.ts";
import { NAME_TABLE_TYPE_URL, TYPE_URL } from "../api/xds/wire/codec.ts";

export const CONFIG_TYPES: Record<string, string> = {
  listeners: TYPE_URL.listener,
  routes: TYPE_URL.routeConfiguration,
  clusters: TYPE_URL.cluster,
  endpoints: TYPE_URL.clusterLoadAssignment,
  /** Capture-mode sidecars only: Istio's NameTable (NDS), each service host with its VIPs. */
  nametable: NAME_TABLE_TYPE_URL,
  // A gateway's SDS secrets (control/secrets.ts): shown with the private key redacted.
  secrets: SECRET_TYPE_URL,
};
