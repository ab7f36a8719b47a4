// envoy.filters.http.dynamic_forward_proxy (FilterConfig {dns_cache_config}): before the router, a request whose
// route goes to a dynamic forward proxy cluster has its :authority's host resolved through the DNS cache of that
// name (shared with the cluster); the request waits for the answer, then goes on to the router, whose cluster picks
// the resolved address. A host that does not resolve is answered 503 DF (dns_resolution_failure), a full cache 503
// UO (dns_cache_overflow), as Envoy answers. Routes to any other cluster pass through untouched.

import { ParseContext } from "../../../api/xds/parse/context.ts";
import { DFP_FILTER_TYPE_URL, readDnsCacheConfig } from "../../../api/xds/parse/dns-cache.ts";
import { Fields } from "../../../api/xds/parse/fields.ts";
import { fail, ok, type Result } from "../../../api/result.ts";
import type { DnsCacheConfig } from "../../../api/xds/types.ts";
import { registerFilter, type FilterContext } from "../../http/filters.ts";
import type { Exchange, Handler } from "../../http/exchange.ts";
import { CAUSES, rescue } from "../../http/rescue.ts";
import { dnsCacheManager, type DnsCache, type DnsCacheFailure } from "../../upstream/dns-cache.ts";
import { splitAuthority } from "../../upstream/dynamic-forward-proxy.ts";

export interface DynamicForwardProxyConfig {
  dnsCache: DnsCacheConfig;
}

const SPEC = {
  handled: ["dns_cache_config"],
  // Envoy's switch for an upstream address filter state; nothing here reads it.
  ignored: ["save_upstream_address"],
  unsupported: ["sub_cluster_config", "allow_dynamic_host_from_filter_state", "strip_port_from_host"],
} as const;

export function parseDynamicForwardProxy(raw: Record<string, unknown>): Result<DynamicForwardProxyConfig, string[]> {
  const ctx = new ParseContext();
  const f = Fields.open(ctx, raw, "", SPEC);
  const dnsCache = readDnsCacheConfig(f, "dns_cache_config");
  if (ctx.issues.length > 0) return fail(ctx.issues.map((i) => `${i.path || "(root)"}: ${i.message}`));
  return ok({ dnsCache });
}

const FAILURES: Record<DnsCacheFailure, (typeof CAUSES)[keyof typeof CAUSES]> = {
  dns_resolution_failure: CAUSES.dnsResolutionFailed,
  dns_cache_overflow: CAUSES.dnsCacheOverflow,
  pending_request_overflow: CAUSES.dnsPendingOverflow,
};

registerFilter<DynamicForwardProxyConfig>({
  typeUrl: DFP_FILTER_TYPE_URL,
  parse: parseDynamicForwardProxy,
  create(config: DynamicForwardProxyConfig, context: FilterContext) {
    const manager = dnsCacheManager(context.store);
    // The cache is made (or found) when the first request needs it: the cluster may be built after the listener.
    let cache: DnsCache | undefined;
    const cacheName = config.dnsCache.name;
    return (next: Handler) => (ex: Exchange) => {
      const route = context.routeOf(ex);
      if (route.kind !== "route" || !route.clusters.some((c) => manager.cacheOfCluster(c.name) === cacheName)) {
        next(ex);
        return;
      }
      const target = splitAuthority(ex.authority, 80);
      if (target === undefined) {
        rescue(ex, CAUSES.dnsResolutionFailed, ex.authority);
        return;
      }
      if (cache === undefined || manager.existing(cacheName) !== cache)
        cache = manager.cache(config.dnsCache, context.clock);
      // Most requests find the host resolved and go on synchronously; only a request that waits for DNS watches
      // for its client leaving meanwhile.
      let state: "resolving" | "waiting" | "done" = "resolving";
      cache.resolve(target.host, target.port, (endpoint, failure) => {
        if (state === "done") return; // the client left while waiting
        const waited = state === "waiting";
        state = "done";
        if (waited) {
          // The next layer registers its own abort callback when it needs one; ours must not fire after this.
          ex.response.onAbort(NOTHING);
          if (!ex.body.empty) ex.body.resume();
        }
        if (endpoint === undefined) rescue(ex, FAILURES[failure ?? "dns_resolution_failure"], target.host);
        else next(ex);
      });
      if (state === "resolving") {
        state = "waiting";
        // The body stays with the codec, paused, while DNS answers (as the fault filter's delay does).
        if (!ex.body.empty) ex.body.pause();
        ex.response.onAbort(() => (state = "done"));
      }
    };
  },
});

function NOTHING(): void {}
