// Listener filters at run time: they look at a new connection's first bytes before a filter chain is chosen, and
// record what they found (transport protocol, SNI, ALPN) for the chain's filter_chain_match. Node has no MSG_PEEK,
// so the bytes are read, kept, and handed to the chosen chain intact (Envoy peeks; the effect is the same). The
// wait is bounded in time (listener_filters_timeout, on the injected clock) and in size (each filter's own limit).

import type net from "node:net";
import type { Clock, Timer } from "../../api/clock.ts";
import type { ListenerFilterPredicate } from "../../api/xds/types.ts";
import { matchesListenerFilterPredicate } from "../../api/xds/parse/listener-filter-predicate.ts";
import type { ConnectionProperties } from "./filter-chain-selector.ts";

export type InspectResult = "done" | "more" | "close";

/** What a listener filter may do to the connection beyond looking (the PROXY protocol filter does both). */
export interface InspectContext {
  readonly socket: net.Socket;
  /** The first `n` bytes seen are the filter's own: later filters and the chain never see them. */
  consume(n: number): void;
}

export interface ListenerFilterRuntime {
  /**
   * Looks at every byte read so far (from the first one no earlier filter consumed); may set `props`. "more" waits
   * for the next bytes.
   */
  inspect(data: Buffer, props: ConnectionProperties, conn: InspectContext): InspectResult;
}

/**
 * A filter with filter_disabled: when the predicate matches the connection's destination port (as the filters
 * before it left it: the original destination once original_dst or the PROXY protocol restored it), the filter is
 * skipped before it looks at a byte, as Envoy's ActiveTcpSocket::continueFilterChain does.
 */
export function disabledWhen(
  predicate: ListenerFilterPredicate | undefined,
  filter: ListenerFilterRuntime,
): ListenerFilterRuntime {
  if (predicate === undefined) return filter;
  return {
    inspect: (data, props, conn) =>
      matchesListenerFilterPredicate(predicate, props.destinationPort) ? "done" : filter.inspect(data, props, conn),
  };
}

export interface ListenerFilterOptions {
  clock: Clock;
  /** 0: no timeout. */
  timeoutMs: number;
  /** At the timeout: go on to chain selection with what is known (true) or close the connection (false). */
  continueOnTimeout: boolean;
  onTimeout: () => void;
}

/**
 * Runs `filters` on `socket`; `done(props, initial)` is called once they all finished (or timed out with
 * continueOnTimeout), with the bytes read so far; otherwise the socket is destroyed. `props` arrives filled with
 * the defaults ("raw_buffer", no SNI, no ALPN).
 */
export function runListenerFilters(
  socket: net.Socket,
  filters: readonly ListenerFilterRuntime[],
  props: ConnectionProperties,
  options: ListenerFilterOptions,
  done: (props: ConnectionProperties, initial: Buffer | undefined) => void,
): void {
  // What has been read, in a buffer that doubles when full: a peer sending one byte at a time costs linear copying.
  let buf: Buffer | undefined;
  let length = 0;
  let owned = false;
  // Bytes before `start` were consumed by a filter (a PROXY protocol header).
  let start = 0;
  const seen = (): Buffer | undefined => (start === length ? undefined : buf?.subarray(start, length));
  const conn: InspectContext = {
    socket,
    consume: (n) => {
      start = Math.min(length, start + n);
    },
  };
  let next = 0;
  let timer: Timer | undefined;
  let settled = false;
  const finish = (): void => {
    if (settled) return;
    settled = true;
    timer?.cancel();
    socket.off("data", onData);
    socket.off("end", onClosed);
    socket.off("error", onClosed);
    socket.off("close", onClosed);
    done(props, seen());
  };
  const close = (): void => {
    if (settled) return;
    settled = true;
    timer?.cancel();
    socket.off("data", onData);
    socket.on("error", () => {});
    socket.destroy();
  };
  // Runs the filters from the first unfinished one; "done" when they all are.
  const advance = (): InspectResult => {
    while (next < filters.length) {
      const result = filters[next]!.inspect(seen() ?? EMPTY, props, conn);
      if (result !== "done") return result;
      next++;
    }
    return "done";
  };
  const onData = (chunk: Buffer): void => {
    if (buf === undefined)
      buf = chunk; // the usual case: the whole hello in one read, no copy
    else {
      // The first chunk is Node's buffer, never written into: the first append copies, later ones grow by doubling.
      if (!owned || length + chunk.length > buf.length) {
        const kept = length - start;
        const grown = Buffer.allocUnsafe(Math.max(2 * kept, kept + chunk.length, 1024));
        buf.copy(grown, 0, start, length);
        buf = grown;
        length = kept;
        start = 0;
        owned = true;
      }
      chunk.copy(buf, length);
    }
    length += chunk.length;
    const result = advance();
    if (result === "done") finish();
    else if (result === "close") close();
  };
  // The peer went away (or half-closed) before the filters could decide: Envoy closes the connection too.
  const onClosed = (): void => close();
  const first = advance(); // filters that need no bytes finish at once
  if (first === "done") return done(props, undefined);
  if (first === "close") return close();
  socket.on("data", onData);
  socket.on("end", onClosed);
  socket.on("error", onClosed);
  socket.on("close", onClosed);
  if (options.timeoutMs > 0)
    timer = options.clock.setTimer(options.timeoutMs, () => {
      options.onTimeout();
      if (options.continueOnTimeout) finish();
      else close();
    });
}

const EMPTY = Buffer.alloc(0);
