// What SotW and delta streams share: the node (from the first request), the per-type status the CLI shows, and
// the ACK/NACK bookkeeping. The nonce decides what a request answers: the last response's nonce makes it an ACK
// or (with error_detail) a NACK; an older nonce is stale and says nothing about the current response.

import { XdsProtocolError } from "./errors.ts";
import { nodeFromWire } from "./node.ts";
import type { WireNode, WireStatus } from "./ads-proto.ts";
import type { PreparedSnapshot } from "./prepared.ts";
import type { StreamContext } from "./stream-context.ts";
import type { ProxyStatus, TypeStatus, XdsNode } from "./types.ts";

export type RequestKind = "initial" | "ack" | "nack" | "stale";

export abstract class StreamBase {
  node: XdsNode | undefined;
  prepared: PreparedSnapshot | undefined;
  connectedSince = 0;
  protected readonly statuses = new Map<string, TypeStatus>();

  constructor(
    protected readonly ctx: StreamContext,
    readonly streamId: number,
    readonly protocol: "sotw" | "delta",
  ) {}

  /** The first request introduces the node; later ones may repeat it (ignored) or omit it. */
  protected admit(wireNode: WireNode | null | undefined): XdsNode {
    if (this.node) return this.node;
    if (!wireNode || !wireNode.id) throw new XdsProtocolError("the first request on a stream must carry node.id");
    this.node = nodeFromWire(wireNode);
    this.connectedSince = this.ctx.clock.wallNow();
    this.prepared = this.ctx.prepare(this.node, undefined);
    this.ctx.hooks.onConnect?.(this.status());
    return this.node;
  }

  /** Tells the hooks a response went out (the dashboard, tests and the benchmark listen). */
  protected reportPush(typeUrl: string, version: string, nonce: string, resources: number, removed: number): void {
    this.ctx.hooks.onPush?.({
      streamId: this.streamId,
      nodeId: this.node?.id ?? "",
      typeUrl,
      version,
      nonce,
      resources,
      removed,
    });
  }

  protected typeStatus(typeUrl: string): TypeStatus {
    let s = this.statuses.get(typeUrl);
    if (!s) {
      s = { typeUrl, sentVersion: "", ackedVersion: "", nonce: "" };
      this.statuses.set(typeUrl, s);
    }
    return s;
  }

  /** Classifies a request by its nonce and records an ACK or NACK. */
  protected classify(
    typeUrl: string,
    nonce: string | undefined,
    errorDetail: WireStatus | null | undefined,
    ackedVersion: string,
  ): RequestKind {
    const s = this.statuses.get(typeUrl);
    if (!nonce) return "initial";
    if (!s || s.nonce !== nonce) return s ? "stale" : "initial";
    const event = { streamId: this.streamId, nodeId: this.node?.id ?? "", typeUrl, nonce };
    if (errorDetail && (errorDetail.message || errorDetail.code)) {
      const error = errorDetail.message ?? "";
      s.lastNack = { error, code: errorDetail.code ?? 0, at: this.ctx.clock.wallNow(), rejectedVersion: s.sentVersion };
      this.ctx.hooks.onNack?.({ ...event, version: s.sentVersion, error });
      return "nack";
    }
    s.ackedVersion = ackedVersion;
    if (s.lastNack && s.lastNack.rejectedVersion !== ackedVersion) delete s.lastNack;
    this.ctx.hooks.onAck?.({ ...event, version: ackedVersion });
    return "ack";
  }

  status(): ProxyStatus {
    return {
      streamId: this.streamId,
      nodeId: this.node?.id ?? "",
      cluster: this.node?.cluster ?? "",
      metadata: this.node?.metadata ?? {},
      protocol: this.protocol,
      connectedSince: this.connectedSince,
      types: [...this.statuses.values()].map((s) => ({
        ...s,
        ...(s.lastNack ? { lastNack: { ...s.lastNack } } : {}),
        ...(s.subscribed ? { subscribed: [...s.subscribed] } : {}),
      })),
    };
  }

  /** The world changed: the server recomputed this proxy's snapshot. */
  abstract update(prepared: PreparedSnapshot): void;
}
