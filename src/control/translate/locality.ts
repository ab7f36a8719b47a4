// Istio's locality failover: with outlier detection on a destination (and localityLbSetting not disabled), a
// proxy's endpoints are put in priority levels by how close their locality is to the proxy's own — 0 the same
// region, zone and subzone; then the same region and zone; then the same region; then the regions its
// `failover` rules name for the proxy's region; then the rest — and the levels are numbered without gaps. The
// proxy (src/proxy/upstream/lb/priority.ts, Envoy's priority logic) sends everything to the closest level and
// spills over as its hosts are ejected. `distribute` (locality weights) and `failoverPriority` (label-based
// levels) are reported, not translated: the proxy has no locality-weighted balancing.

import type { LocalityLoadBalancerSetting } from "../../api/resources/types.ts";
import { ownInstance } from "./inbound.ts";
import type { Problems } from "./problems.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import type { EffectivePolicy } from "./traffic-policy.ts";
import type { World } from "./world-index.ts";

interface Locality {
  region: string;
  zone: string;
  subZone: string;
}

export function parseLocality(text: string): Locality {
  const [region = "", zone = "", subZone = ""] = text.split("/");
  return { region, zone, subZone };
}

/** The proxy's locality: what its node says, else its registered instance's; undefined when neither knows. */
export function proxyLocality(world: World, proxy: ProxyIdentity): string | undefined {
  const own = proxy.locality ?? ownInstance(world, proxy)?.locality;
  return own === undefined || parseLocality(own).region === "" ? undefined : own;
}

/**
 * For a cluster with `policy`, the function that ranks an endpoint locality (a raw level, compacted by the
 * caller), or undefined when no failover applies. Reports what of localityLbSetting is not translated.
 */
export function failoverRanking(
  policy: EffectivePolicy,
  proxy: string | undefined,
  where: string,
  problems: Problems,
): ((locality: string) => number) | undefined {
  const setting: LocalityLoadBalancerSetting | undefined = policy.loadBalancer?.localityLbSetting;
  if (setting !== undefined && setting.enabled !== false) {
    if ((setting.distribute ?? []).length > 0)
      problems.add(
        `${where}: loadBalancer.localityLbSetting.distribute is not supported (the proxy has no locality-weighted balancing); ignored`,
      );
    if ((setting.failoverPriority ?? []).length > 0)
      problems.add(
        `${where}: loadBalancer.localityLbSetting.failoverPriority is not supported; failover by locality applies`,
      );
    if (policy.outlierDetection === undefined)
      problems.add(`${where}: loadBalancer.localityLbSetting has no effect without outlierDetection (as in Istio)`);
  }
  if (policy.outlierDetection === undefined || setting?.enabled === false || proxy === undefined) return undefined;
  const me = parseLocality(proxy);
  const failoverTo = new Set((setting?.failover ?? []).filter((f) => f.from === me.region).map((f) => f.to));
  return (text) => {
    const l = parseLocality(text);
    if (l.region !== me.region) return failoverTo.has(l.region) ? 3 : 4;
    if (l.zone !== me.zone) return 2;
    return l.subZone !== me.subZone ? 1 : 0;
  };
}

/** Raw ranks → priorities 0…n-1 in the same order, without gaps (Envoy wants contiguous levels). */
export function compactPriorities(ranks: readonly number[]): number[] {
  const distinct = [...new Set(ranks)].sort((a, b) => a - b);
  return ranks.map((r) => distinct.indexOf(r));
}
