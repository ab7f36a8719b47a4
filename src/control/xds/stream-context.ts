// What a stream needs from its server: snapshots for its node, nonces, the clock, hooks and a log. Kept as an
// interface so the streams can be read (and tested) without the gRPC server around them.

import type { Clock } from "../../api/clock.ts";
import type { PreparedSnapshot } from "./prepared.ts";
import type { XdsHooks, XdsNode } from "./types.ts";

export interface StreamContext {
  readonly clock: Clock;
  readonly hooks: XdsHooks;
  log(message: string): void;
  /** A nonce unique within this server's lifetime (and, by a random prefix, across restarts). */
  nonce(): string;
  /**
   * A state-of-the-world response serialized once for every stream that gets the same content: its nonce is
   * derived from the content (same content, same nonce; different content, different nonce), so a thousand
   * proxies sent the same route cost one serialization. `build` makes the message when it is not cached yet.
   */
  sharedResponse(
    typeUrl: string,
    contentKey: string,
    build: (nonce: string) => object,
  ): { bytes: Buffer; nonce: string };
  /** The node's snapshot now; a failing source yields the previous one (or an empty one). */
  prepare(node: XdsNode, previous: PreparedSnapshot | undefined): PreparedSnapshot;
  readonly controlPlaneId: string;
}

export const WILDCARD_TYPES: ReadonlySet<string> = new Set([
  "type.googleapis.com/envoy.config.listener.v3.Listener",
  "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  // Istio's NDS: the agent asks for the NameTable with no names (one resource, named "").
  "type.googleapis.com/istio.networking.nds.v1.NameTable",
]);
