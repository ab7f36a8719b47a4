// A CONNECT terminated by the proxy (Envoy's route upgrade_configs { upgrade_type: CONNECT, connect_config: {} }):
// instead of forwarding the CONNECT upstream, the attempt opens a TCP connection to the chosen endpoint and, once it
// is open, reports an upgrade: the connection answers 200 and joins the client's socket to it (http1/
// connection-exchange.ts upgradeTo, tcp/join.ts). Before the 200 nothing of the client's tunnel bytes is read as
// HTTP or sent anywhere (the HTTP/1.1 connection holds them from the CONNECT head on and replays them into the
// join). A failed or timed-out connect is a 503 UF, as for any request; the connection is counted like
// tcp_proxy's (upstream_cx_*, the cluster's max_connections). Requests other than CONNECT on such a route go to
// the endpoint as usual.

import net from "node:net";
import type { Timer } from "../../../api/clock.ts";
import { Headers } from "../headers.ts";
import { CAUSES } from "../rescue.ts";
import { upstreamConnectOptions } from "../../upstream/connect.ts";
import { AttemptFailure } from "../../router/retry-policy.ts";
import { ENDPOINT_LAYER } from "./endpoint-layer.ts";
import type { RouteCall } from "./route-call.ts";
import type { CallControl, CallHandler, Dispatcher } from "./layer.ts";

export const CONNECT_TERMINATE_LAYER: Dispatcher = {
  dispatch(call: RouteCall, up: CallHandler): CallControl {
    if (call.ex.upgrade !== "connect") return ENDPOINT_LAYER.dispatch(call, up);
    return new ConnectAttempt(call, up);
  },
};

class ConnectAttempt implements CallControl {
  private readonly socket: net.Socket;
  private timer: Timer | undefined;
  private active = true;
  /** The socket counts as one of the cluster's connections until it closes. */
  private counted = true;

  constructor(
    private readonly call: RouteCall,
    private readonly up: CallHandler,
  ) {
    const { ex, cluster, endpoint } = call;
    ex.info.upstreamHost = endpoint.key;
    ex.info.attempts++;
    const stats = cluster.stats;
    if (!cluster.resources.canOpenConnection(endpoint)) {
      cluster.resources.connectionOverflow();
      this.counted = false;
      this.active = false;
      this.socket = undefined as unknown as net.Socket;
      up.onFailure({ cause: CAUSES.overflow, subject: `${cluster.name}/${endpoint.key}` });
      return;
    }
    cluster.resources.connectionOpened(endpoint);
    stats.upstreamCxTotal.inc();
    stats.upstreamCxActive.inc();
    const socket = net.connect(upstreamConnectOptions(endpoint.address, endpoint.port, cluster.keepAliveMs, true));
    this.socket = socket;
    stats.trackConnection(socket, call.env.clock);
    const connectTimeout = cluster.config.connectTimeoutMs;
    if (connectTimeout > 0) this.timer = call.env.clock.setTimer(connectTimeout, this.onTimeout);
    socket.once("connect", this.onConnect);
    socket.once("error", this.onError);
    socket.once("close", this.onClose);
  }

  private readonly onConnect = (): void => {
    this.timer?.cancel();
    if (!this.active) {
      this.socket.destroy();
      return;
    }
    this.active = false;
    this.socket.off("error", this.onError);
    // The join handles the socket's errors from now on.
    this.up.onUpgrade(new Headers(), this.socket, EMPTY);
  };

  private readonly onTimeout = (): void => {
    if (!this.active) return;
    this.call.cluster.stats.connectFailed(true);
    this.fail(true);
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    this.timer?.cancel();
    if (!this.active) return;
    this.call.cluster.stats.connectFailed(false);
    this.fail(false, err.code === "ECONNREFUSED");
  };

  private fail(timeout: boolean, refused = false): void {
    this.active = false;
    this.socket.destroy();
    const { cluster, endpoint } = this.call;
    this.up.onFailure({
      cause: timeout ? CAUSES.connectTimeout : refused ? CAUSES.connectRefused : CAUSES.connectFailure,
      subject: `${cluster.name}/${endpoint.key}`,
      attempt: AttemptFailure.ConnectFailure,
    });
  }

  private readonly onClose = (): void => {
    this.timer?.cancel();
    if (!this.counted) return;
    this.counted = false;
    const { cluster, endpoint } = this.call;
    cluster.stats.upstreamCxActive.dec();
    cluster.stats.connectionDestroyed(false);
    cluster.resources.connectionClosed(endpoint);
  };

  abandon(): void {
    if (!this.active) return;
    this.active = false;
    this.timer?.cancel();
    this.socket.destroy();
  }

  resume(): void {}
}

const EMPTY = Buffer.alloc(0);
