// The configuration parser's public face: one throwing parser per xDS resource (for the xDS client), and the
// context-accepting readers that collect issues across resources (for the bootstrap).

export { parseCluster, readCluster } from "./cluster.ts";
export { ParseContext } from "./context.ts";
export type { ClusterReference } from "./context.ts";
export { parseDurationMs } from "./duration.ts";
export { parseClusterLoadAssignment, readClusterLoadAssignment } from "./endpoint.ts";
export { parseListener, readListener } from "./listener.ts";
export { parseRouteConfiguration, readRouteConfiguration } from "./route.ts";
