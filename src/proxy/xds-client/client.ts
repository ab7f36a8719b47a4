// The sidecar's xDS client: one ADS stream to the first control plane that answers, of those listed, in either
// wire protocol — incremental (delta, the default, as Envoy in Istio) or state of the world (sotw-protocol.ts,
// delta-protocol.ts). Each response is applied all or nothing (Proxy.applyResources), then ACKed or NACKed with
// an error naming resource and field. When the stream fails the proxy keeps serving what it has; the client waits a
// jittered exponential backoff on the Clock and tries the next server, and resubscribes with what it holds.
//
// Order: the ADS server sends CDS before EDS and LDS before RDS (Envoy's order); responses are applied one at a time
// in arrival order. A route naming a cluster not yet received answers 503 NC cluster_not_found:<name>, which says so.

import * as grpc from "@grpc/grpc-js";
import type { Clock, Timer } from "../../api/clock.ts";
import type { NodeInfo } from "../../api/xds/types.ts";
import type { XdsTarget } from "../config/target.ts";
import { adsService, type AdsClient } from "./ads-proto.ts";
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from "./backoff.ts";
import { DeltaProtocol } from "./delta-protocol.ts";
import { NAME_TABLE_TYPE_URL } from "../../api/xds/wire/codec.ts";
import {
  errorMessage,
  WILDCARD_TYPES,
  type AnyAdsStream,
  type XdsClientEvent,
  type XdsProtocol,
  type XdsProtocolName,
} from "./protocol.ts";
import { SotwProtocol } from "./sotw-protocol.ts";

export { NACK_CODE, type XdsClientEvent, type XdsProtocolName } from "./protocol.ts";

export interface XdsClientOptions {
  /** HOST:PORT of each control plane, tried in turn. */
  servers: readonly string[];
  node: NodeInfo;
  target: XdsTarget;
  clock: Clock;
  /** The wire protocol: "delta" (default) or "sotw". */
  protocol?: XdsProtocolName;
  random?: () => number;
  backoff?: BackoffOptions;
  log?: (line: string) => void;
  /**
   * Istio's NDS: when given (the proxy runs a DNS proxy), the client also subscribes to the NameTable (wildcard,
   * after CDS and LDS) and hands each response's resources here; a throw NACKs it with the error's message (the
   * DNS proxy keeps its last good table).
   */
  nameTable?: (versionInfo: string, resources: readonly Record<string, unknown>[]) => void;
}

export class XdsClient {
  private readonly random: () => number;
  private readonly backoff: BackoffOptions;
  private readonly protocol: XdsProtocol;
  private readonly listeners = new Set<(e: XdsClientEvent) => void>();
  private serverIndex = 0;
  private attempt = 0;
  private client: AdsClient | undefined;
  private stream: AnyAdsStream | undefined;
  private retryTimer: Timer | undefined;
  private stopped = false;
  /** Responses are handled one at a time, in arrival order. */
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly options: XdsClientOptions) {
    if (options.servers.length === 0) throw new Error("XdsClient needs at least one server");
    this.random = options.random ?? Math.random;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    const sink = options.nameTable;
    const target: XdsTarget =
      sink === undefined
        ? options.target
        : {
            applyResources: async (typeUrl, versionInfo, resources) =>
              typeUrl === NAME_TABLE_TYPE_URL
                ? sink(versionInfo, resources)
                : options.target.applyResources(typeUrl, versionInfo, resources),
            routeConfigNames: () => options.target.routeConfigNames(),
            edsServiceNames: () => options.target.edsServiceNames(),
          };
    const ctx = {
      node: options.node,
      target,
      wildcardTypes: sink === undefined ? WILDCARD_TYPES : [...WILDCARD_TYPES, NAME_TABLE_TYPE_URL],
      emit: (e: XdsClientEvent) => this.emit(e),
      log: (line: string) => this.log(line),
    };
    this.protocol = options.protocol === "sotw" ? new SotwProtocol(ctx) : new DeltaProtocol(ctx);
  }

  /** Opens the stream (and keeps one open until stop()). */
  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.retryTimer?.cancel();
    this.closeStream();
  }

  onEvent(cb: (e: XdsClientEvent) => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  /** The version applied last, per type URL (for status and tests). */
  version(typeUrl: string): string {
    return this.protocol.version(typeUrl);
  }

  get protocolName(): XdsProtocolName {
    return this.protocol.name;
  }

  get currentServer(): string {
    return this.options.servers[this.serverIndex]!;
  }

  /** Tells every listener; one that throws is logged and does not keep the others (or the client) from going on. */
  private emit(e: XdsClientEvent): void {
    for (const cb of [...this.listeners]) {
      try {
        cb(e);
      } catch (err) {
        this.log(`event listener failed: ${errorMessage(err)}`);
      }
    }
  }

  private log(line: string): void {
    this.options.log?.(`xds: ${line}`);
  }

  private connect(): void {
    if (this.stopped) return;
    const server = this.currentServer;
    this.emit({ kind: "connecting", server });
    const Service = adsService();
    const client = new Service(server, grpc.credentials.createInsecure());
    const stream = this.protocol.open(client);
    this.client = client;
    this.stream = stream;
    let ended = false;
    const onEnd = (reason: string): void => {
      if (ended) return;
      ended = true;
      if (this.stream === stream) this.onStreamLost(server, reason);
    };
    const isCurrent = (): boolean => this.stream === stream;
    stream.on("data", (res: unknown) => {
      // A stream that delivers is a healthy one: the next failure starts the backoff from the beginning.
      this.attempt = 0;
      // Responses are handled one at a time, in order. A handler that fails (a bug: applying already turns bad
      // configuration into a NACK) must not poison the chain, or nothing would ever be applied again: it is
      // logged, and the stream is replaced, since the server may still wait for this response's ACK or NACK.
      this.work = this.work
        .then(() => (isCurrent() ? this.protocol.handle(stream, res, isCurrent) : undefined))
        .catch((err: unknown) => {
          this.log(`handling a response failed: ${errorMessage(err)}`);
          if (isCurrent()) onEnd(`handling a response failed: ${errorMessage(err)}`);
        });
    });
    stream.on("error", (err: grpc.ServiceError) => onEnd(err.details || err.message));
    stream.on("end", () => onEnd("stream ended"));
    this.protocol.attach(stream);
  }

  private onStreamLost(server: string, reason: string): void {
    this.closeStream();
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.backoff, this.random);
    this.serverIndex = (this.serverIndex + 1) % this.options.servers.length;
    this.log(`stream to ${server} lost (${reason}); next attempt to ${this.currentServer} in ${Math.round(delay)} ms`);
    this.emit({ kind: "disconnected", server, reason, retryInMs: delay });
    this.retryTimer = this.options.clock.setTimer(delay, () => {
      this.retryTimer = undefined;
      this.connect();
    });
  }

  private closeStream(): void {
    const stream = this.stream;
    const client = this.client;
    this.stream = undefined;
    this.client = undefined;
    if (stream) {
      stream.removeAllListeners("data");
      stream.on("error", () => {});
      stream.cancel();
    }
    client?.close();
  }
}
