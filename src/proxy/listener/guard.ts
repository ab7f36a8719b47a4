// The last line against a throw on the data path. No input may end the process (DESIGN.md §2): every emitter's
// 'error' is handled and every handler is meant not to throw, but a bug that slips through must cost one
// connection, not the sidecar. Three places catch what escaped, from the most to the least specific:
//
// 1. Accept: the listener's 'connection' handler (listener filters, chain selection, the terminal filter's
//    accept) runs in a try/catch. A throw there is reported with the listener and the peer's address, and that
//    connection is closed.
// 2. The connection's own callbacks: every later callback on a downstream socket ('data', 'end', 'close',
//    'error', 'drain', timeouts; tcp_proxy, the codec-AUTO sniffing, listener filters and whatever a socket event
//    starts) is called by the socket's emit. The listener replaces that socket's `emit` with one function made
//    once per listener (no closure, no allocation per connection or per request: one property store per
//    connection, one extra call frame per event), which calls the real emit in a try/catch. A throw, or an
//    'error' emitted with no listener (EventEmitter throws it), is reported with the connection it happened on
//    and that connection is destroyed; the others keep flowing. This is where the connection is known for free:
//    the socket is `this`. Reads an HTTP/1.1 connection takes through http1/direct-read.ts (Node calls that
//    callback directly, not through emit) catch their own throws and hand them to the same handler
//    (connectionThrew below). Not covered here: an HTTP/2 session's own events; those belong to their codec, and
//    what escapes them reaches the process-level line below.
// 3. The process: `trellis proxy` counts and logs what reaches uncaughtException/unhandledRejection (timer
//    callbacks, upstream sockets, promise chains) and keeps serving; no connection is known there, and none is
//    closed (cli/proxy.ts).
// Each is counted once in server.unhandled_errors (admin /stats and /stats/prometheus) and logged with the stack.

import net from "node:net";
import type { StatsStore } from "../../telemetry/stats.ts";
import { ServerStats } from "../../telemetry/envoy-stats.ts";

/** Counts (server.unhandled_errors) and logs one error that escaped the data path; `where` names the connection. */
export type UnhandledErrorReporter = (err: unknown, where: string) => void;

export function unhandledErrorReporter(store: StatsStore, log: (line: string) => void): UnhandledErrorReporter {
  const counter = new ServerStats(store).unhandledErrors;
  return (err, where) => {
    counter.inc();
    try {
      log(`unhandled error (${where}): ${describe(err)}`);
    } catch {
      // The log itself failed: the counter still says it happened.
    }
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  try {
    return String(err);
  } catch {
    return "(an error that cannot be printed)";
  }
}

/** "listener inbound, 10.0.0.1:5555 -> 127.0.0.1:15006" (best effort: a destroyed socket may have forgotten). */
export function describeConnection(listenerName: string, socket: net.Socket): string {
  return `listener ${listenerName}, ${socket.remoteAddress}:${socket.remotePort} -> ${socket.localAddress}:${socket.localPort}`;
}

const socketEmit = net.Socket.prototype.emit;

/**
 * The `emit` a listener installs on each of its downstream sockets: the real emit, in a try/catch; a throw goes to
 * `onThrow(socket, err)`. Made once per listener.
 */
export function guardedEmit(onThrow: (socket: net.Socket, err: unknown) => void): typeof socketEmit {
  const emit = function emit(this: net.Socket): boolean {
    try {
      // `arguments` as is: no rest array allocated per event.
      // eslint-disable-next-line prefer-rest-params
      return socketEmit.apply(this, arguments as unknown as Parameters<typeof socketEmit>);
    } catch (err) {
      onThrow(this, err);
      return true;
    }
  } as GuardedEmit;
  emit[kOnThrow] = onThrow;
  return emit;
}

const kOnThrow = Symbol("guard.onThrow");

type GuardedEmit = typeof socketEmit & { [kOnThrow]?: (socket: net.Socket, err: unknown) => void };

/**
 * For a callback Node calls directly rather than through the socket's emit (http1/direct-read.ts): `err` escaped
 * it, on `socket`. When the socket's listener guards it, this is what its guarded emit does with a throw (reported
 * with the connection, counted in server.unhandled_errors, the connection closed) and returns true; otherwise it
 * returns false and does nothing. Only called once something has thrown: costs nothing until then.
 */
export function connectionThrew(socket: net.Socket, err: unknown): boolean {
  const onThrow = (socket.emit as GuardedEmit)[kOnThrow];
  if (onThrow === undefined) return false;
  onThrow(socket, err);
  return true;
}
