// The router's public surface: compile a RouteConfiguration once, then route requests against it.

export { compileRouteTable } from "./route-table.ts";
export type * from "./types.ts";
