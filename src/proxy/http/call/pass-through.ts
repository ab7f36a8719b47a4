// The per-request object of a layer that wraps one call below it: everything is passed up and down unchanged until
// the call is over (ended, failed, upgraded or abandoned); a layer overrides what it adds and `finished` to drop
// what it holds (timers).

import type { Duplex } from "node:stream";
import type { Headers } from "../headers.ts";
import type { Abandon, CallControl, CallFailure, CallHandler } from "./layer.ts";

export abstract class PassThroughCall implements CallHandler, CallControl {
  /** The call below, once its dispatch returned (it may report before it does). */
  below: CallControl | undefined;
  over = false;

  constructor(protected readonly up: CallHandler) {}

  /** Runs once, when the call is over for this layer. */
  protected finished(): void {}

  private end(): void {
    this.over = true;
    this.below = undefined;
    this.finished();
  }

  /** Gives the call below up for `why` and reports `failure` instead (a timeout that fired). */
  protected giveUp(why: Abandon, failure: CallFailure): void {
    const below = this.below;
    this.end();
    below?.abandon(why);
    this.up.onFailure(failure);
  }

  onHead(status: number, headers: Headers): void {
    if (!this.over) this.up.onHead(status, headers);
  }
  onData(chunk: Buffer): boolean {
    return this.over ? true : this.up.onData(chunk);
  }
  onEnd(trailers: Headers | undefined): void {
    if (this.over) return;
    this.end();
    this.up.onEnd(trailers);
  }
  onFailure(failure: CallFailure): void {
    if (this.over) return;
    this.end();
    this.up.onFailure(failure);
  }
  onUpgrade(headers: Headers, socket: Duplex, head: Buffer): void {
    if (this.over) {
      socket.destroy();
      return;
    }
    this.end();
    this.up.onUpgrade(headers, socket, head);
  }

  abandon(why: Abandon): void {
    if (this.over) return;
    const below = this.below;
    this.end();
    below?.abandon(why);
  }
  resume(): void {
    this.below?.resume();
  }
}
