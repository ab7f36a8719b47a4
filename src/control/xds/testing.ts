// A raw ADS client that behaves as Envoy on the wire, for tests and the benchmark: it sends DiscoveryRequests
// built by hand and hands responses over in order. No sleeps: `next()` resolves when a response arrives.

import * as grpc from "@grpc/grpc-js";
import {
  adsClientConstructor,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type WireNode,
  type WireStruct,
  type WireValue,
} from "./ads-proto.ts";

function toValue(v: unknown): WireValue {
  if (v === null || v === undefined) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}

export function toStruct(obj: Record<string, unknown>): WireStruct {
  return { fields: Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, toValue(v)])) };
}

export function wireNode(id: string, metadata: Record<string, unknown> = {}): WireNode {
  return { id, cluster: "test", metadata: toStruct(metadata), user_agent_name: "trellis-test" };
}

/** One ADS stream (SotW or delta) with a queue of responses. */
export class RawAdsStream<Req, Res> {
  private readonly queue: Res[] = [];
  private waiters: { resolve: (r: Res) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  /** The status the stream ended with, once it has. */
  ended: Promise<grpc.StatusObject>;

  constructor(private readonly call: grpc.ClientDuplexStream<Req, Res>) {
    call.on("data", (r: Res) => {
      const w = this.waiters.shift();
      if (w) w.resolve(r);
      else this.queue.push(r);
    });
    this.ended = new Promise((resolve) => call.on("status", resolve));
    call.on("error", (e: Error) => {
      this.failure = e;
      for (const w of this.waiters.splice(0)) w.reject(e);
    });
  }

  send(req: Req): void {
    this.call.write(req);
  }

  /** The next response, in order of arrival. */
  next(): Promise<Res> {
    const r = this.queue.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Responses received but not yet taken. */
  get buffered(): number {
    return this.queue.length;
  }

  close(): void {
    this.call.cancel();
  }
}

export type SotwClient = RawAdsStream<DiscoveryRequest, DiscoveryResponse>;
export type DeltaClient = RawAdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/** An ADS gRPC client (one HTTP/2 connection; many streams may share it). */
export function adsClient(address: string, options: grpc.ChannelOptions = {}): grpc.Client {
  const Ctor = adsClientConstructor();
  return new Ctor(address, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    ...options,
  });
}

export function openSotw(client: grpc.Client): SotwClient {
  const c = client as unknown as {
    StreamAggregatedResources(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  };
  return new RawAdsStream(c.StreamAggregatedResources());
}

export function openDelta(client: grpc.Client): DeltaClient {
  const c = client as unknown as {
    DeltaAggregatedResources(): grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  };
  return new RawAdsStream(c.DeltaAggregatedResources());
}
