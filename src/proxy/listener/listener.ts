// One listening socket and what it does with each connection: listener filters (tls_inspector) look at the first
// bytes, a filter chain is chosen by filter_chain_match (filter-chain-selector.ts), and the chain takes the
// connection over (filter-chain.ts). Without listener filters every connection has the same properties, so the
// chain is chosen once, when the configuration is built, and a connection goes straight to it.

import net from "node:net";
import type { Clock } from "../../api/clock.ts";
import type { Listener } from "../../api/xds/types.ts";
import type { ListenerStats } from "../../telemetry/envoy-stats.ts";
import type { FilterChainRuntime } from "./filter-chain.ts";
import { FilterChainSelector, type ConnectionProperties } from "./filter-chain-selector.ts";
import { runListenerFilters, type ListenerFilterOptions, type ListenerFilterRuntime } from "./listener-filter.ts";
import { describeConnection, guardedEmit, type UnhandledErrorReporter } from "./guard.ts";
import { restoredFrom } from "./original-destination.ts";

export { FilterChainRuntime, type ListenerTerminal } from "./filter-chain.ts";

export interface ListenerChains {
  /** One per `config.filterChains`, in order. */
  chains: readonly FilterChainRuntime[];
  /** default_filter_chain's. */
  defaultChain: FilterChainRuntime | undefined;
  listenerFilters: readonly ListenerFilterRuntime[];
  clock: Clock;
}

export class ListenerRuntime {
  private server: net.Server | undefined;
  private draining = false;
  private readonly chains: readonly FilterChainRuntime[];
  private readonly selector: FilterChainSelector<FilterChainRuntime>;
  private readonly listenerFilters: readonly ListenerFilterRuntime[];
  private readonly clock: Clock;
  private readonly filterOptions: ListenerFilterOptions;
  /** Connections still in the listener filters. */
  private readonly inspecting = new Set<net.Socket>();
  /**
   * The chain every connection gets, when that is known at configuration time (no listener filters, and the
   * destination port is the configured one); null when no chain fits at all; undefined: chosen per connection.
   */
  private readonly fixed: FilterChainRuntime | null | undefined;
  /** Some chain matches on prefix_ranges or source_prefix_ranges: connections' addresses are read for selection. */
  private readonly matchesAddresses: boolean;
  /** Installed as each downstream socket's emit: a throw in its callbacks costs that connection only (guard.ts). */
  private readonly guardedEmit: net.Socket["emit"] | undefined;
  /**
   * use_original_dst: where a connection whose local address a listener filter restored goes — the listener for
   * that address (the runtime configuration's lookup; this listener itself, or undefined, to keep it).
   */
  listenerFor: ((address: string, port: number) => ListenerRuntime | undefined) | undefined;

  constructor(
    readonly config: Listener,
    built: ListenerChains,
    private readonly stats: ListenerStats,
    /** Where a throw that escaped a connection's handlers goes (server.unhandled_errors); none: not caught here. */
    private readonly reportUnhandled?: UnhandledErrorReporter,
  ) {
    this.guardedEmit = reportUnhandled === undefined ? undefined : guardedEmit(this.connectionThrew);
    this.chains = built.defaultChain === undefined ? built.chains : [...built.chains, built.defaultChain];
    this.selector = new FilterChainSelector(
      config.filterChains.map((c, i) => ({ match: c.match, value: built.chains[i]! })),
      built.defaultChain,
    );
    this.listenerFilters = built.listenerFilters;
    this.clock = built.clock;
    this.filterOptions = {
      clock: built.clock,
      timeoutMs: config.listenerFiltersTimeoutMs,
      continueOnTimeout: config.continueOnListenerFiltersTimeout,
      onTimeout: () => stats.downstreamPreCxTimeout.inc(),
    };
    const portKnown =
      config.address.port !== 0 || config.filterChains.every((c) => c.match.destinationPort === undefined);
    const addressesUnused = config.filterChains.every(
      (c) => c.match.prefixRanges.length === 0 && c.match.sourcePrefixRanges.length === 0,
    );
    this.matchesAddresses = !addressesUnused;
    this.fixed =
      this.listenerFilters.length === 0 && portKnown && addressesUnused
        ? (this.selector.select(propertiesOf(config.address.port)) ?? null)
        : undefined;
  }

  get address(): { address: string; port: number } {
    const a = this.server?.address();
    if (a && typeof a === "object") return { address: a.address, port: a.port };
    return { address: this.config.address.address, port: this.config.address.port };
  }

  /** bind_to_port: false: never bound; it takes only connections a use_original_dst listener hands it. */
  get bindsPort(): boolean {
    return this.config.bindToPort;
  }

  /** Whether it accepts connections (bound or handed over): not draining. */
  get accepting(): boolean {
    return !this.draining;
  }

  /** Binds the port; resolves once listening. */
  listen(): Promise<void> {
    // Half-open sockets: a client that half-closes after its request (or a TCP peer) still gets the answer.
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, this.onConnection);
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: this.config.address.address, port: this.config.address.port, backlog: 4096 }, () => {
        server.off("error", reject);
        server.on("error", () => {});
        resolve();
      });
    });
  }

  /**
   * A listener update with the same address: this runtime takes over `previous`'s bound socket, so the port never
   * closes and new connections get the new configuration. `previous` keeps its connections (they finish on the
   * configuration they started with) and is drained by the caller.
   */
  adopt(previous: ListenerRuntime): void {
    const server = previous.server;
    if (server === undefined) throw new Error(`listener ${previous.config.name} has no bound socket to hand over`);
    previous.server = undefined;
    server.off("connection", previous.onConnection);
    server.on("connection", this.onConnection);
    this.server = server;
  }

  /** Whether `other` listens where this one does (an update that keeps it can keep the bound socket). */
  sameAddress(other: Listener): boolean {
    return this.config.address.address === other.address.address && this.config.address.port === other.address.port;
  }

  private readonly onConnection = (socket: net.Socket): void => this.accept(socket, this.config.useOriginalDst);

  /**
   * A connection a use_original_dst listener hands over (Envoy: onAcceptWorker with hand-off off): this listener's
   * own listener filters run on it, then its chains pick it; `initial`, bytes the first listener's filters read, are
   * put back first so they are seen again (Envoy's filters peek, so the bytes were never taken).
   */
  takeOver(socket: net.Socket, initial: Buffer | undefined): void {
    if (initial !== undefined) socket.unshift(initial);
    this.accept(socket, false);
  }

  private accept(socket: net.Socket, mayHandOff: boolean): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    if (this.guardedEmit !== undefined) socket.emit = this.guardedEmit;
    try {
      // The listener that takes the connection counts it (Envoy): with use_original_dst that is known only once the
      // listener filters have restored its destination.
      if (mayHandOff) return this.inspect(socket, true);
      this.count(socket);
      const fixed = this.fixed;
      if (fixed) fixed.accept(socket, undefined);
      else if (fixed === null) this.noChain(socket);
      else if (this.listenerFilters.length === 0)
        this.dispatch(
          propertiesOf(socket.localPort ?? 0, this.matchesAddresses ? socket : undefined),
          undefined,
          socket,
        );
      else this.inspect(socket);
    } catch (err) {
      if (this.reportUnhandled === undefined) throw err;
      this.connectionThrew(socket, err);
    }
  }

  /** A throw escaped this connection's handlers: reported with the connection, which is closed; the rest go on. */
  private readonly connectionThrew = (socket: net.Socket, err: unknown): void => {
    this.reportUnhandled!(err, describeConnection(this.config.name, socket));
    if (!socket.destroyed) {
      socket.on("error", noop);
      socket.destroy();
    }
  };

  private count(socket: net.Socket): void {
    this.stats.downstreamCxTotal.inc();
    this.stats.downstreamCxActive.inc();
    const opened = this.clock.now();
    socket.once("close", () => this.onSocketClose(opened));
  }

  private onSocketClose(opened: number): void {
    this.stats.downstreamCxActive.dec();
    this.stats.downstreamCxDestroy.inc();
    this.stats.downstreamCxLengthMs.observe(this.clock.now() - opened);
  }

  private inspect(socket: net.Socket, mayHandOff = false): void {
    this.inspecting.add(socket);
    this.stats.downstreamPreCxActive.inc();
    socket.once("close", () => {
      if (this.inspecting.delete(socket)) this.stats.downstreamPreCxActive.dec();
    });
    const props = propertiesOf(socket.localPort ?? 0, this.matchesAddresses ? socket : undefined);
    runListenerFilters(socket, this.listenerFilters, props, this.filterOptions, (found, initial) => {
      if (this.inspecting.delete(socket)) this.stats.downstreamPreCxActive.dec();
      if (mayHandOff) {
        const target = this.handOffTarget(socket);
        if (target !== undefined) return target.takeOver(socket, initial);
        this.count(socket);
      }
      this.dispatch(found, initial, socket);
    });
  }

  /**
   * use_original_dst (Envoy's ActiveTcpSocket::newConnection): a connection whose local address was restored goes
   * to the listener for that address, when there is one other than this; else it stays here.
   */
  private handOffTarget(socket: net.Socket): ListenerRuntime | undefined {
    if (restoredFrom(socket) === undefined || this.listenerFor === undefined) return undefined;
    const target = this.listenerFor(socket.localAddress ?? "", socket.localPort ?? 0);
    return target === this || target?.accepting !== true ? undefined : target;
  }

  private dispatch(props: ConnectionProperties, initial: Buffer | undefined, socket: net.Socket): void {
    const chain = this.selector.select(props);
    if (chain === undefined) this.noChain(socket);
    else chain.accept(socket, initial);
  }

  /** No chain fits and there is no default one: closed at once (Envoy's no_filter_chain_match). */
  private noChain(socket: net.Socket): void {
    this.stats.noFilterChainMatch.inc();
    socket.on("error", () => {});
    socket.destroy();
  }

  /** Drain: stop accepting, close idle HTTP/1 connections, ask busy ones to close after their response, GOAWAY h2. */
  drain(idleGraceMs = 0): void {
    this.draining = true;
    this.server?.close();
    for (const s of this.inspecting) s.destroy();
    for (const c of this.chains) c.drain(idleGraceMs);
  }

  /** Connections still open (HTTP/1, HTTP/2 sessions, TCP, and those still in the listener filters). */
  get openConnections(): number {
    let n = this.inspecting.size;
    for (const c of this.chains) n += c.openConnections;
    return n;
  }

  /** Ends everything now. */
  destroy(): void {
    this.server?.close();
    for (const s of this.inspecting) s.destroy();
    for (const c of this.chains) c.destroy();
  }
}

function noop(): void {}

/**
 * Envoy's defaults before any listener filter ran: raw_buffer, no SNI, no ALPN; the socket's addresses when given
 * (only listeners that match on addresses read them; original_dst and proxy_protocol set them anyway).
 */
function propertiesOf(destinationPort: number, socket?: net.Socket): ConnectionProperties {
  return {
    destinationPort,
    destinationAddress: socket?.localAddress,
    sourceAddress: socket?.remoteAddress,
    transportProtocol: "raw_buffer",
    serverName: "",
    applicationProtocols: [],
  };
}
