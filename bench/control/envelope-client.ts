// The benchmark's simulated sidecars: ADS over a plain node:http2 session (gRPC's framing by hand), reading only
// each response's envelope (version_info, type_url, nonce) as its bytes arrive (envelope-scanner.ts) and never
// assembling the resources. The benchmark measures the control plane, and a real Envoy decodes on its own machine
// in C++; the simulated ones share this machine's 2 cores with the control plane, so every copy they save is CPU
// the control plane gets. Windows are Envoy's defaults for its xDS connection (256 MiB), so a sidecar never makes
// the control plane wait for window updates.

import http2 from "node:http2";
import { EventEmitter } from "node:events";
import { adsClientConstructor, type DiscoveryRequest } from "../../src/control/xds/ads-proto.ts";
import { grpcFrame } from "../../src/control/xds/preframed.ts";
import { EnvelopeScanner, type Envelope } from "./envelope-scanner.ts";

export type { Envelope } from "./envelope-scanner.ts";

const PATH = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const WINDOW = 256 * 1024 * 1024;

/** One ADS stream: write requests; 'data' gives envelopes, 'error' a failure. */
export interface EnvelopeCall extends EventEmitter {
  write(request: DiscoveryRequest): void;
}

export function envelopeClient(address: string): { open(): EnvelopeCall; close(): void } {
  const serialize = adsClientConstructor().service.StreamAggregatedResources!.requestSerialize;
  const session = http2.connect(`http://${address}`, { settings: { initialWindowSize: WINDOW } });
  session.on("error", () => {});
  session.on("connect", () => session.setLocalWindowSize(WINDOW));
  return {
    open(): EnvelopeCall {
      const call = new EventEmitter() as EnvelopeCall;
      const stream = session.request({
        ":method": "POST",
        ":path": PATH,
        "content-type": "application/grpc",
        te: "trailers",
      });
      const scanner = new EnvelopeScanner((e: Envelope) => call.emit("data", e));
      stream.on("data", (chunk: Buffer) => {
        try {
          scanner.push(chunk);
        } catch (err) {
          call.emit("error", err);
          stream.close();
        }
      });
      stream.on("error", (err) => call.emit("error", err));
      call.write = (request) => void stream.write(grpcFrame(serialize(request)));
      return call;
    },
    close: () => session.close(),
  };
}
