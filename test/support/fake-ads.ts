// A small control plane for proxy tests (grpc-js-xds's habit): a real gRPC ADS server on 127.0.0.1 that holds one
// snapshot per type, answers each subscription with it (filtered by resource_names for EDS and RDS), pushes every
// change to the streams subscribed, and records every request so tests can watch ACKs and NACKs.

import * as grpc from "@grpc/grpc-js";
import { encodeResource } from "../../src/api/xds/wire/codec.ts";
import { adsService, type DiscoveryRequest, type DiscoveryResponse } from "../../src/proxy/xds-client/ads-proto.ts";

type Raw = Record<string, unknown>;
type Stream = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

interface Snapshot {
  version: string;
  resources: Raw[];
}

interface Subscription {
  names: string[];
}

const NAME_FIELD: Record<string, string> = {
  "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": "cluster_name",
};

export interface RecordedRequest extends DiscoveryRequest {
  /** Which stream (connection) sent it, counted from 1. */
  stream: number;
}

export class FakeAds {
  readonly requests: RecordedRequest[] = [];
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly streams = new Map<Stream, { id: number; subs: Map<string, Subscription> }>();
  private readonly waiters: { pred: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }[] = [];
  private nonce = 0;
  private streamCount = 0;
  private server: grpc.Server | undefined;
  port = 0;

  /** Starts serving on `port` (0: a free one). */
  async start(port = 0): Promise<this> {
    const server = new grpc.Server();
    server.addService(adsService().service, {
      StreamAggregatedResources: (stream: Stream) => this.onStream(stream),
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    this.server = server;
    return this;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Ends every stream and stops listening (the control plane goes away). */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    this.streams.clear();
  }

  /** Replaces the snapshot of one type and pushes it to every stream subscribed to it. */
  set(typeUrl: string, version: string, resources: Raw[]): void {
    this.snapshots.set(typeUrl, { version, resources });
    for (const [stream, s] of this.streams) {
      const sub = s.subs.get(typeUrl);
      if (sub) this.respond(stream, typeUrl, sub);
    }
  }

  /** The next request (from now on, or already received when `fromIndex` is given) that `pred` accepts. */
  nextRequest(pred: (r: RecordedRequest) => boolean, fromIndex?: number): Promise<RecordedRequest> {
    if (fromIndex !== undefined) {
      const found = this.requests.slice(fromIndex).find(pred);
      if (found) return Promise.resolve(found);
    }
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  /** The ACK or NACK of a given version of a type. */
  reply(typeUrl: string, version: string, fromIndex = 0): Promise<RecordedRequest> {
    return this.nextRequest(
      (r) =>
        r.type_url === typeUrl &&
        r.response_nonce !== "" &&
        (r.version_info === version || (r.error_detail != null && this.sentVersion.get(r.response_nonce!) === version)),
      fromIndex,
    );
  }

  /** The version each nonce carried. */
  private readonly sentVersion = new Map<string, string>();

  private onStream(stream: Stream): void {
    const state = { id: ++this.streamCount, subs: new Map<string, Subscription>() };
    this.streams.set(stream, state);
    stream.on("data", (req: DiscoveryRequest) => {
      const recorded: RecordedRequest = { ...req, stream: state.id };
      this.requests.push(recorded);
      for (const w of [...this.waiters]) {
        if (w.pred(recorded)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(recorded);
        }
      }
      const names = req.resource_names ?? [];
      const typeUrl = req.type_url ?? "";
      const sub = state.subs.get(typeUrl);
      const changed = sub === undefined || sub.names.join(",") !== names.join(",");
      if (!changed && req.response_nonce) return; // an ACK or a NACK: nothing new to send
      const next = { names: [...names] };
      state.subs.set(typeUrl, next);
      this.respond(stream, typeUrl, next);
    });
    stream.on("error", () => this.streams.delete(stream));
    stream.on("end", () => {
      this.streams.delete(stream);
      stream.end();
    });
  }

  private respond(stream: Stream, typeUrl: string, sub: Subscription): void {
    const snap = this.snapshots.get(typeUrl);
    if (snap === undefined) return;
    const nameField = NAME_FIELD[typeUrl] ?? "name";
    const resources =
      sub.names.length === 0
        ? snap.resources
        : snap.resources.filter((r) => sub.names.includes(r[nameField] as string));
    const nonce = String(++this.nonce);
    this.sentVersion.set(nonce, snap.version);
    stream.write({
      version_info: snap.version,
      type_url: typeUrl,
      nonce,
      resources: resources.map((r) => {
        const any = encodeResource(typeUrl, r);
        return { type_url: any.type_url, value: Buffer.from(any.value) };
      }),
    });
  }
}
