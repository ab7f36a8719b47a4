// A request waiting in an HTTP/1.1 pool's queue because the cluster's max_connections (or the endpoint's per-host
// limit) stopped the pool opening a connection for it. The router holds this object as the request's
// UpstreamStream: aborting it while queued takes it out of the queue; once a connection serves it, abort and
// resume go to that connection. Made only when a request has to wait.

import type { UpstreamHandler, UpstreamRequest, UpstreamStream } from "../upstream/pool.ts";
import type { Http1UpstreamConnection } from "./upstream-connection.ts";

export interface PendingOwner {
  /** The request left the queue without a connection (aborted by the router). */
  abandon(pending: PendingRequest): void;
}

export class PendingRequest implements UpstreamStream {
  private conn: Http1UpstreamConnection | undefined;
  private abandoned = false;

  constructor(
    private readonly owner: PendingOwner,
    readonly request: UpstreamRequest,
    readonly handler: UpstreamHandler,
  ) {}

  /** Its turn came: the request is sent on `conn` (connected, or still connecting). */
  dispatch(conn: Http1UpstreamConnection): void {
    this.conn = conn;
    conn.send(this.request, this.handler);
  }

  abort(): void {
    if (this.conn !== undefined) this.conn.abort();
    else if (!this.abandoned) {
      this.abandoned = true;
      this.owner.abandon(this);
    }
  }

  resume(): void {
    this.conn?.resume();
  }
}
