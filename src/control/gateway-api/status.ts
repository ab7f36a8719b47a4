// The `status` of the Gateway API's resources as `trellis get` shows them: the conditions the conversion decided
// (convert.ts), with backends checked against the services the world knows.

import type { Resource } from "../../api/resources/types.ts";
import type { World } from "../translate/world-index.ts";
import { convertGatewayApi } from "./convert.ts";

/** Status by store key (GatewayClass/…, KubernetesGateway/…, HTTPRoute/…). */
export function gatewayApiStatus(
  resources: readonly Resource[],
  world: Pick<World, "service" | "secrets">,
): Map<string, Record<string, unknown>> {
  return convertGatewayApi(resources, {
    hasService: (host) => world.service(host) !== undefined,
    hasSecret: (namespace, name) => world.secrets.some((s) => s.namespace === namespace && s.name === name),
  }).status;
}
