// Request mirroring (route request_mirror_policies): a copy of the request goes to a shadow cluster with "-shadow"
// appended to the host; its answer is read and thrown away. The primary never waits for it: the mirror reads the
// request body beside the primary without holding it back, and its failures are only counted on the shadow cluster.

import type { Clock, Timer } from "../../api/clock.ts";
import type { RequestMirrorPolicy } from "../../api/xds/types.ts";
import type { Duplex } from "node:stream";
import type { Exchange, RequestBody } from "./exchange.ts";
import type { Headers } from "./headers.ts";
import type { UpstreamCluster } from "../upstream/cluster.ts";
import type { Endpoint } from "../upstream/endpoint.ts";
import type { ConnectFailure, UpstreamHandler, UpstreamRequest, UpstreamStream } from "../upstream/pool.ts";

/** "reviews:9080" → "reviews-shadow:9080", "[::1]:80" → "[::1]-shadow:80" (Envoy inserts before the port). */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(":");
  const hasPort = colon > authority.lastIndexOf("]") && colon >= 0;
  return hasPort ? authority.slice(0, colon) + "-shadow" + authority.slice(colon) : authority + "-shadow";
}

/** Sends one shadow copy of `ex` (after the route's rewrites and header edits) to `cluster`. */
export function sendMirror(
  ex: Exchange,
  policy: RequestMirrorPolicy,
  cluster: UpstreamCluster,
  body: RequestBody,
  timeoutMs: number,
  clock: Clock,
): void {
  const endpoint = cluster.pick({ hash: undefined, downstream: ex.downstream, headers: ex.headers });
  if (endpoint === undefined) {
    cluster.stats.upstreamCxNoneHealthy.inc();
    return;
  }
  const request: UpstreamRequest = {
    method: ex.method,
    path: ex.path,
    authority: policy.disableShadowHostSuffixAppend ? ex.authority : shadowAuthority(ex.authority),
    scheme: ex.scheme,
    headers: ex.headers.clone(),
    body,
    upgrade: undefined,
    protocol: ex.protocol,
  };
  new MirrorCall(cluster, endpoint, clock).send(request, timeoutMs);
}

class MirrorCall implements UpstreamHandler {
  private stream: UpstreamStream | undefined;
  private timer: Timer | undefined;
  private done = false;
  private readonly startMs: number;

  constructor(
    private readonly cluster: UpstreamCluster,
    private readonly endpoint: Endpoint,
    private readonly clock: Clock,
  ) {
    this.startMs = clock.now();
  }

  send(request: UpstreamRequest, timeoutMs: number): void {
    const { cluster, endpoint } = this;
    cluster.requestStarted(endpoint);
    if (timeoutMs > 0) this.timer = this.clock.setTimer(timeoutMs, this.onTimeout);
    const stream = cluster.poolFor(endpoint).request(request, this);
    if (!this.done) this.stream = stream;
  }

  private finish(code: number): void {
    if (this.done) return;
    this.done = true;
    this.timer?.cancel();
    this.stream = undefined;
    this.cluster.requestEnded(this.endpoint, code, this.clock.now() - this.startMs);
  }

  private status = 0;

  onConnectFailure(_reason: ConnectFailure): void {
    this.finish(0);
  }
  onHead(status: number, _headers: Headers): void {
    this.status = status;
  }
  onData(_chunk: Buffer): boolean {
    return true;
  }
  onEnd(): void {
    this.finish(this.status);
  }
  onReset(err: Error): void {
    if ((err as NodeJS.ErrnoException).code === "TRELLIS_H2_REQUEST_NOT_ENCODABLE") {
      // Never sent (the request's own headers): not the shadow endpoint's error.
      if (this.done) return;
      this.done = true;
      this.timer?.cancel();
      this.stream = undefined;
      this.cluster.requestNotSent(this.endpoint);
      return;
    }
    this.finish(0);
  }
  onUpgrade(_headers: Headers, socket: Duplex): void {
    socket.destroy();
    this.finish(0);
  }

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    const stream = this.stream;
    this.endpoint.rqTimeout++;
    this.cluster.stats.upstreamRqTimeout.inc();
    this.finish(0);
    stream?.abort();
  };
}
