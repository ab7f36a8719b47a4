// Non-terminal network filters: each looks at a new connection before the terminal filter (http_connection_manager
// or tcp_proxy) takes it over, and may refuse it. Refusal closes the socket at once, with a response flag for the
// TCP session's record (Envoy's onNewConnection returning StopIteration after closing the connection).

import type net from "node:net";

export interface ConnectionFilter {
  /** True: let the connection go on to the next filter. False: refused — the listener closes it. */
  onNewConnection(socket: net.Socket): boolean;
  /** The response flag recorded for a refused connection (e.g. "RL"). */
  readonly refusalFlag: string;
}
