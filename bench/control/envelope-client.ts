// The benchmark's simulated sidecars read only a response's envelope (version_info, type_url, nonce) and skip its
// resources without decoding them: the benchmark measures the control plane, and a real Envoy decodes on its own
// machine in C++. With full decoding, the two client processes sharing the machine's 2 cores became the bottleneck
// (each response's 100 KB route decoded a thousand times per process).

import * as grpc from "@grpc/grpc-js";
import { adsClientConstructor, type DiscoveryRequest } from "../../src/control/xds/ads-proto.ts";

export interface Envelope {
  version_info: string;
  type_url: string;
  nonce: string;
}

/** Reads fields 1 (version_info), 4 (type_url) and 5 (nonce) of a DiscoveryResponse; skips everything else. */
export function readEnvelope(buf: Buffer): Envelope {
  const out: Envelope = { version_info: "", type_url: "", nonce: "" };
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = buf[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      if (field === 1 || field === 4 || field === 5) {
        const text = buf.toString("utf8", pos, pos + len);
        if (field === 1) out.version_info = text;
        else if (field === 4) out.type_url = text;
        else out.nonce = text;
      }
      pos += len;
    } else if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}

type EnvelopeCall = grpc.ClientDuplexStream<DiscoveryRequest, Envelope>;

/** An ADS client whose stream yields envelopes; requests are serialized as usual. */
export function envelopeClient(address: string): { open(): EnvelopeCall; close(): void } {
  const full = adsClientConstructor().service.StreamAggregatedResources!;
  const Ctor = grpc.makeGenericClientConstructor(
    {
      StreamAggregatedResources: {
        ...full,
        responseDeserialize: (b: Buffer) => readEnvelope(b),
      },
    },
    "LightAds",
  );
  const client = new Ctor(address, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
    // Envoy's default HTTP/2 windows for its xDS connection (initial_stream_window_size, 256 MiB): a sidecar never
    // makes the control plane wait for window updates. grpc-js's default is 64 KiB.
    "grpc-node.flow_control_window": 256 * 1024 * 1024,
  }) as unknown as grpc.Client & { StreamAggregatedResources(): EnvelopeCall };
  return { open: () => client.StreamAggregatedResources(), close: () => client.close() };
}
