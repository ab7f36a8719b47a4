// How every upstream TCP connection is opened — the HTTP/1.1 pool, HTTP/2 sessions and tcp_proxy all come here:
// Nagle off, and the cluster's upstream_connection_options.tcp_keepalive when it has one.
//
// Keepalive goes in as net.connect's own options, never as socket.setKeepAlive() right after connect: the socket
// has no file descriptor yet then, and libuv keeps only the on/off flag, applying its own 60 s delay when the
// descriptor is made. Given as options, Node sets it once connected, with our delay. On Linux libuv then also
// fixes TCP_KEEPINTVL at 1 s and TCP_KEEPCNT at 10 (Node 20, libuv 1.46; strace shows it): keepalive_interval
// and keepalive_probes cannot be honoured from Node. A delay of 0 leaves the system's idle time (the kernel
// refuses TCP_KEEPIDLE 0 and libuv stops there), which is Envoy's meaning of a tcp_keepalive without
// keepalive_time: SO_KEEPALIVE with the system's values.

import net from "node:net";
import type { TcpKeepalive } from "../../api/xds/types.ts";
import { copyRead, SHARED_READ_BUFFER } from "../http1/direct-read.ts";

/**
 * Opens a connection. With `onData`, bytes are delivered straight from the socket's reads to it (Node's `onread`
 * option), skipping the Readable stream's per-read work; without it the caller listens for 'data' itself.
 */
export type UpstreamConnect = (host: string, port: number, onData?: (chunk: Buffer) => void) => net.Socket;

/** The keepalive delay net.connect gets for a cluster's tcp_keepalive; undefined = no keepalive. */
export function keepAliveDelayMs(keepalive: TcpKeepalive | undefined): number | undefined {
  if (keepalive === undefined) return undefined;
  return keepalive.timeS === undefined ? 0 : keepalive.timeS * 1000;
}

/** net.connect's options for one upstream connection. */
export function upstreamConnectOptions(
  host: string,
  port: number,
  keepAliveMs: number | undefined,
  allowHalfOpen = false,
): net.TcpNetConnectOpts {
  const options: net.TcpNetConnectOpts = { host, port, noDelay: true, allowHalfOpen };
  if (keepAliveMs !== undefined) {
    options.keepAlive = true;
    options.keepAliveInitialDelay = keepAliveMs;
  }
  return options;
}

/** The connector of a cluster's pools: with the cluster's keepalive delay, or none. */
export function upstreamConnector(keepAliveMs?: number): UpstreamConnect {
  return (host, port, onData) => {
    const options = upstreamConnectOptions(host, port, keepAliveMs);
    if (onData !== undefined) {
      options.onread = {
        // Reads are synchronous and each is copied out, so every socket can share one buffer.
        buffer: SHARED_READ_BUFFER,
        callback: (n: number, buf: Uint8Array): boolean => {
          onData(copyRead(buf, n));
          return true;
        },
      };
    }
    return net.connect(options);
  };
}

/** Plain connections: no keepalive. */
export const netConnect: UpstreamConnect = upstreamConnector();
