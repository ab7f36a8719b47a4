// The router's types in one place, for the code that consumes a compiled route table (the router filter, admin).

export type { CompileOptions, CompiledVirtualHost, RouteMiss, RouteTable } from "./route-table.ts";
export type { CompiledRoute } from "./compiled-route.ts";
export type { ClusterChoice } from "./cluster-choice.ts";
export type { SetCookie } from "./hash-policy.ts";
export type { RouteContext, RouteRequest } from "./request.ts";
