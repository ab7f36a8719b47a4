// A listener's listener_filters: they see a new connection before a filter chain is chosen. The one implemented is
// envoy.filters.listener.tls_inspector (SNI and ALPN for filter_chain_match); any other is refused by name.

import type { ListenerFilter } from "../types.ts";
import { describe, type ParseContext } from "./context.ts";
import { Fields, type Item } from "./fields.ts";
import { readTypedConfig } from "./http-connection-manager.ts";

export const TLS_INSPECTOR_FILTER_NAME = "envoy.filters.listener.tls_inspector";
export const TLS_INSPECTOR_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector";

const LISTENER_FILTER_SPEC = {
  handled: ["name", "typed_config"],
  unsupported: ["config_discovery", "filter_disabled"],
} as const;

const TLS_INSPECTOR_SPEC = {
  handled: ["@type", "enable_ja3_fingerprinting"],
  // How much Envoy peeks first; here whatever the socket delivers is looked at, up to the 16 KiB limit.
  ignored: ["initial_read_buffer_size"],
} as const;

export function readListenerFilters(ctx: ParseContext, items: readonly Item[]): ListenerFilter[] {
  const out: ListenerFilter[] = [];
  for (const item of items) {
    const filter = Fields.open(ctx, item.value, item.path, LISTENER_FILTER_SPEC);
    const name = filter.requiredString("name");
    const { typeUrl } = readTypedConfig(filter);
    if (typeUrl !== "" && typeUrl !== TLS_INSPECTOR_TYPE_URL) {
      filter.report("typed_config", `unknown listener filter ${describe(name)} (type ${typeUrl})`);
      continue;
    }
    if (typeUrl === "" && name !== "" && name !== TLS_INSPECTOR_FILTER_NAME) {
      filter.report(
        "name",
        `unknown listener filter ${describe(name)} (only ${TLS_INSPECTOR_FILTER_NAME} is supported)`,
      );
      continue;
    }
    const config = Fields.open(ctx, filter.raw("typed_config"), filter.at("typed_config"), TLS_INSPECTOR_SPEC);
    if (config.bool("enable_ja3_fingerprinting", false))
      config.report("enable_ja3_fingerprinting", "JA3 fingerprinting is not supported yet");
    if (out.some((f) => f.kind === "tls_inspector"))
      ctx.report(item.path, `${TLS_INSPECTOR_FILTER_NAME} is listed twice`);
    else out.push({ kind: "tls_inspector", name });
  }
  return out;
}
