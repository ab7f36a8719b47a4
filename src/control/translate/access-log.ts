// MeshConfig's access logs (accessLogFile, or the envoyFileAccessLog default providers) as Envoy's access_log: every
// HTTP connection manager of a sidecar gets the same list, as Istio gives every listener it builds. The proxy's
// tcp_proxy has no access log yet, so TCP listeners get none (the MeshConfig's notices say so).

import type { MeshAccessLog } from "../../api/resources/mesh-config.ts";
import { HCM_NAME } from "./envoy.ts";
import type { Json } from "./envoy.ts";

export const FILE_ACCESS_LOG_NAME = "envoy.access_loggers.file";
export const FILE_ACCESS_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";

/** One FileAccessLog per configured log, its format inline (text) or as json_format (JSON). */
export function accessLogJson(logs: readonly MeshAccessLog[]): Json[] {
  return logs.map((log) => ({
    name: FILE_ACCESS_LOG_NAME,
    typed_config: {
      "@type": FILE_ACCESS_LOG_TYPE,
      path: log.path,
      log_format:
        log.format.kind === "text"
          ? { text_format_source: { inline_string: log.format.text } }
          : { json_format: { ...log.format.labels } },
    },
  }));
}

/** `listeners` with `accessLog` on each HTTP connection manager (in place; returns the same list). */
export function addAccessLogs(listeners: Json[], accessLog: readonly Json[]): Json[] {
  if (accessLog.length === 0) return listeners;
  for (const l of listeners) {
    for (const chain of (l.filter_chains as Json[] | undefined) ?? []) {
      for (const filter of (chain.filters as Json[] | undefined) ?? []) {
        if (filter.name !== HCM_NAME) continue;
        const config = filter.typed_config as Json;
        config.access_log = accessLog.map((a) => structuredClone(a));
      }
    }
  }
  return listeners;
}
