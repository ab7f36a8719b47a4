// The ADS server: envoy.service.discovery.v3.AggregatedDiscoveryService over gRPC (15010 by default), state of the
// world and delta. It holds one stream object per connected proxy; `refresh()` (the world changed) is debounced,
// then every connected proxy's snapshot is recomputed and each stream pushes only what changed for it.

import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { systemClock, type Clock } from "../../api/clock.ts";
import { createHash } from "node:crypto";
import {
  adsServiceDefinition,
  serializeSotwResponse,
  withPreserializedResponses,
  type DeltaDiscoveryRequest,
  type DiscoveryRequest,
} from "./ads-proto.ts";
import { Debouncer } from "./debounce.ts";
import { DeltaStream } from "./delta-stream.ts";
import { XdsBindError, XdsProtocolError } from "./errors.ts";
import { prepareSnapshot, type PreparedSnapshot } from "./prepared.ts";
import { SotwStream } from "./sotw-stream.ts";
import { WriteBudget, type BudgetedWriter } from "./write-budget.ts";
import { frameForGrpc, preframing } from "./preframed.ts";
import type { StreamBase } from "./stream-base.ts";
import type { StreamContext } from "./stream-context.ts";
import type { ProxyStatus, SnapshotSource, XdsHooks, XdsNode } from "./types.ts";

export const DEFAULT_XDS_PORT = 15010;

export interface XdsServerOptions {
  source: SnapshotSource;
  /** Default "0.0.0.0". */
  host?: string;
  /** Default 15010; 0 picks a free port (see `port` after start()). */
  port?: number;
  /** Quiet period before a refresh is pushed. Default 100 ms. */
  debounceMs?: number;
  /** Longest a refresh waits under a steady stream of changes. Default 1000 ms. */
  maxDebounceMs?: number;
  clock?: Clock;
  hooks?: XdsHooks;
  /** Where protocol problems are reported. Default: stderr. */
  log?: (message: string) => void;
  /** Sent as control_plane.identifier in every response. */
  controlPlaneId?: string;
  /** Passed to the gRPC server (message size limits, keepalive). */
  grpcOptions?: grpc.ServerOptions;
}

/** Serialized responses kept for reuse across proxies (and reconnects), in bytes. */
const MAX_CACHED_RESPONSE_BYTES = 64 * 1024 * 1024;
/** State-of-the-world responses in flight at once, in bytes: enough to keep loopback and NICs busy. */
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

export class XdsServer {
  private readonly grpcServer: grpc.Server;
  private readonly streams = new Map<number, StreamBase>();
  private readonly debouncer: Debouncer;
  private readonly ctx: StreamContext;
  private readonly source: SnapshotSource;
  private nextStreamId = 1;
  private boundPort = 0;

  constructor(private readonly options: XdsServerOptions) {
    this.source = options.source;
    const clock = options.clock ?? systemClock;
    const log = options.log ?? ((m: string) => process.stderr.write(m + "\n"));
    const prefix = randomBytes(4).toString("hex");
    let nonces = 0;
    this.ctx = {
      clock,
      hooks: options.hooks ?? {},
      log,
      nonce: () => `${prefix}-${++nonces}`,
      sharedResponse: (typeUrl, contentKey, build) => this.sharedResponse(prefix, typeUrl, contentKey, build),
      prepare: (node, previous) => this.prepare(node, previous),
      controlPlaneId: options.controlPlaneId ?? "trellis",
    };
    this.budget = new WriteBudget(MAX_IN_FLIGHT_BYTES, clock);
    const quiet = options.debounceMs ?? 100;
    this.debouncer = new Debouncer(clock, quiet, Math.max(quiet, options.maxDebounceMs ?? 1000), () => this.push());
    this.grpcServer = new grpc.Server({
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      ...options.grpcOptions,
    });
    this.grpcServer.addService(withPreserializedResponses(adsServiceDefinition()), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, unknown>) => {
        const writer: BudgetedWriter = { write: (bytes, done) => void call.write(bytes, done) };
        this.serve(
          call,
          (id) => new SotwStream(this.ctx, id, (bytes, typeUrl) => this.budget.send(writer, typeUrl, bytes)),
          () => this.budget.forget(writer),
        );
      },
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, unknown>) =>
        this.serve(call, (id) => new DeltaStream(this.ctx, id, (r) => call.write(r))),
    });
  }

  /** Responses handed to gRPC and not yet written, across all streams (write-budget.ts). */
  private readonly budget: WriteBudget;
  private readonly responses = new Map<string, { bytes: Buffer; nonce: string }>();
  private responseBytes = 0;

  private sharedResponse(
    prefix: string,
    typeUrl: string,
    contentKey: string,
    build: (nonce: string) => object,
  ): { bytes: Buffer; nonce: string } {
    const key = `${typeUrl} ${contentKey}`;
    let cached = this.responses.get(key);
    if (cached === undefined) {
      const nonce = `${prefix}-c${createHash("sha256").update(key).digest("base64url").slice(0, 12)}`;
      const serialized = serializeSotwResponse(build(nonce));
      cached = { bytes: preframing ? frameForGrpc(serialized) : serialized, nonce };
      this.responses.set(key, cached);
      this.responseBytes += cached.bytes.length;
      // Bounded by size, oldest first: a response only one proxy gets (its own inbound side is in it) is not worth
      // keeping for long, and with thousands of proxies such responses would otherwise hold hundreds of MB.
      for (const [oldKey, old] of this.responses) {
        if (this.responseBytes <= MAX_CACHED_RESPONSE_BYTES || oldKey === key) break;
        this.responses.delete(oldKey);
        this.responseBytes -= old.bytes.length;
      }
    }
    return cached;
  }

  /** Binds and starts serving; resolves with the bound port. */
  async start(): Promise<number> {
    const address = `${this.options.host ?? "0.0.0.0"}:${this.options.port ?? DEFAULT_XDS_PORT}`;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.grpcServer.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(new XdsBindError(address, { cause: err })) : resolve(port),
      ),
    );
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The world changed: push, after the debounce, whatever changed to the proxies it affects. */
  refresh(): void {
    this.debouncer.trigger();
  }

  /** Pushes now: recomputes every connected proxy's snapshot (cancelling a pending debounced refresh). */
  refreshNow(): void {
    this.debouncer.cancel();
    this.push();
  }

  /** Every connected stream, for the HTTP API, `trellis proxy-status` and the dashboard. */
  proxies(): ProxyStatus[] {
    return [...this.streams.values()].filter((s) => s.node).map((s) => s.status());
  }

  /** Stops accepting streams, then ends those still open after graceMs. */
  async stop(graceMs = 1000): Promise<void> {
    this.debouncer.cancel();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, graceMs);
      force.unref();
      this.grpcServer.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
      // Open ADS streams never end on their own: ask the clients to go.
      for (const s of this.streams.values()) this.closers.get(s)?.();
    });
  }

  private readonly closers = new WeakMap<StreamBase, () => void>();

  private prepare(node: XdsNode, previous: PreparedSnapshot | undefined): PreparedSnapshot {
    try {
      return prepareSnapshot(this.source.snapshotFor(node), previous);
    } catch (err) {
      // A broken snapshot source must not take proxies down: they keep what they have.
      this.ctx.log(`xds: snapshot for ${node.id} failed, keeping the previous one: ${(err as Error).message}`);
      return previous ?? new Map();
    }
  }

  private push(): void {
    for (const stream of this.streams.values()) {
      if (!stream.node) continue;
      try {
        stream.update(this.prepare(stream.node, stream.prepared));
      } catch (err) {
        this.ctx.log(`xds: push to ${stream.node.id} failed: ${(err as Error).message}`);
      }
    }
  }

  private serve<Req>(
    call: grpc.ServerDuplexStream<Req, unknown>,
    create: (id: number) => StreamBase & { onRequest(req: Req): void },
    onClose?: () => void,
  ): void {
    const stream = create(this.nextStreamId++);
    this.streams.set(stream.streamId, stream);
    let closed = false;
    const close = (status?: { code: grpc.status; details: string }) => {
      if (closed) return;
      closed = true;
      this.streams.delete(stream.streamId);
      onClose?.();
      if (stream.node) this.ctx.hooks.onDisconnect?.(stream.status());
      if (status) call.emit("error", status);
      else if (!call.writableEnded) call.end();
    };
    this.closers.set(stream, () => close({ code: grpc.status.UNAVAILABLE, details: "control plane shutting down" }));
    call.on("data", (req: Req) => {
      if (closed) return;
      try {
        stream.onRequest(req);
      } catch (err) {
        // A bad message closes this stream only; the server and every other proxy go on.
        const protocol = err instanceof XdsProtocolError;
        this.ctx.log(`xds: stream ${stream.streamId} (${stream.node?.id ?? "no node"}): ${(err as Error).message}`);
        close({
          code: protocol ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL,
          details: (err as Error).message,
        });
      }
    });
    call.on("end", () => close());
    call.on("cancelled", () => close());
    call.on("error", () => close());
    call.on("close", () => close());
  }
}
