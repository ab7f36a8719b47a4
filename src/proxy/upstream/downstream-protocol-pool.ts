// The pool of one endpoint of a cluster with use_downstream_protocol_config: each request goes upstream in the
// protocol it came in — HTTP/2 over the endpoint's HTTP/2 pool, HTTP/1.0 and HTTP/1.1 over its HTTP/1.1 pool
// (Envoy's ClusterInfoImpl::upstreamHttpProtocol: HTTP/1.0 goes out as HTTP/1.1). Each pool is made on first use.
// Only such clusters get this pool: every other cluster's pool takes requests directly, with no protocol check.

import type { ConnectionPool, UpstreamHandler, UpstreamRequest, UpstreamStream } from "./pool.ts";

export class DownstreamProtocolPool implements ConnectionPool {
  private http1: ConnectionPool | undefined;
  private http2: ConnectionPool | undefined;

  constructor(private readonly makePool: (http2: boolean) => ConnectionPool) {}

  request(request: UpstreamRequest, handler: UpstreamHandler): UpstreamStream {
    const pool =
      request.protocol === "HTTP/2" ? (this.http2 ??= this.makePool(true)) : (this.http1 ??= this.makePool(false));
    return pool.request(request, handler);
  }

  get active(): number {
    return (this.http1?.active ?? 0) + (this.http2?.active ?? 0);
  }

  get connections(): number {
    return (this.http1?.connections ?? 0) + (this.http2?.connections ?? 0);
  }

  close(): void {
    this.http1?.close();
    this.http2?.close();
  }
}
