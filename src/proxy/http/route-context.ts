// What header formats (%DOWNSTREAM_REMOTE_ADDRESS%, %START_TIME%…) read of an exchange's connection, for the rare
// paths that evaluate them outside the router: local replies (local_reply_config) and the local rate limit's headers.

import type { Clock } from "../../api/clock.ts";
import type { RouteContext } from "../router/request.ts";
import type { Exchange } from "./exchange.ts";

export function routeContextOf(ex: Exchange, clock: Clock): RouteContext {
  const d = ex.downstream;
  return {
    remoteAddress: d.remoteAddress,
    remotePort: d.remotePort,
    localAddress: d.localAddress,
    localPort: d.localPort,
    protocol: ex.protocol,
    requestId: ex.info.requestId,
    startWallMs: clock.wallNow() - (clock.now() - ex.info.startMs),
  };
}
