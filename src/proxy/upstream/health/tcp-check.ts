// The TCP health check (Envoy's TcpHealthCheckerImpl). Without `receive`, a connection that opens passes (and is
// closed at once). With it, `send` is written and the check passes once every `receive` block has arrived, in order
// but not necessarily adjacent (Envoy's "fuzzy" match): bytes may trickle in over several reads, and the answer
// may carry more than was asked for. A connection closed before the match is a network failure; an answer that
// never matches runs into the timeout. With reuse_connection the connection stays open for the next check.

import type net from "node:net";
import type { TcpHealthCheck } from "../../../api/xds/types.ts";
import {
  PASSED,
  connectTarget,
  errorText,
  networkFailure,
  type CheckResult,
  type Probe,
  type ProbeTarget,
} from "./probe.ts";

/** Every block found in `data`, each after the previous one's end. */
export function fuzzyMatch(blocks: readonly Uint8Array[], data: Buffer): boolean {
  let from = 0;
  for (const block of blocks) {
    const at = data.indexOf(block, from);
    if (at < 0) return false;
    from = at + block.length;
  }
  return true;
}

export class TcpProbe implements Probe {
  private socket: net.Socket | undefined;
  private received = Buffer.alloc(0);
  private done: ((result: CheckResult) => void) | undefined;

  constructor(
    private readonly target: ProbeTarget,
    private readonly config: TcpHealthCheck,
    private readonly reuse: boolean,
  ) {}

  check(done: (result: CheckResult) => void): void {
    this.done = done;
    this.received = Buffer.alloc(0);
    const socket = this.socket ?? this.connect();
    if (this.config.receive.length > 0 && this.config.send.length > 0) socket.write(this.config.send);
  }

  abort(): void {
    this.drop();
  }

  close(): void {
    this.drop();
  }

  private connect(): net.Socket {
    const socket = connectTarget(this.target);
    socket.setNoDelay(true);
    this.socket = socket;
    socket.on("connect", () => {
      // Connect-only check: the connection opening is the answer.
      if (this.config.receive.length === 0) {
        this.drop();
        this.finish(PASSED);
      }
    });
    // A connection dropped on purpose (this.socket moved on) reports nothing more.
    socket.on("data", (chunk: Buffer) => {
      if (socket !== this.socket || this.done === undefined) return; // between checks nothing waits for bytes
      this.received = Buffer.concat([this.received, chunk]);
      if (!fuzzyMatch(this.config.receive, this.received)) return;
      this.received = Buffer.alloc(0);
      if (!this.reuse) this.drop();
      this.finish(PASSED);
    });
    socket.on("error", (err) => {
      if (socket !== this.socket) return;
      this.drop();
      this.finish(networkFailure(`connection failed: ${errorText(err)}`));
    });
    socket.on("close", () => {
      if (socket !== this.socket) return;
      this.drop();
      this.finish(networkFailure("connection closed before the expected answer"));
    });
    return socket;
  }

  private finish(result: CheckResult): void {
    const done = this.done;
    this.done = undefined;
    done?.(result);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }
}
