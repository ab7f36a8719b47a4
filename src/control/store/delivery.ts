// Ordered, asynchronous delivery of watch events to one handler. Events are queued in revision order and handed
// over on a later turn of the event loop, never inside the write that caused them, so a handler may call the
// store again without re-entering it. A throwing handler is reported as a process warning and does not stop the
// events after it: one consumer's bug must not blind the others.

import type { WatchEvent } from "./types.ts";

export class EventDelivery {
  private queue: WatchEvent[] = [];
  private scheduled = false;
  private closed = false;
  private readonly handler: (event: WatchEvent) => void;

  constructor(handler: (event: WatchEvent) => void) {
    this.handler = handler;
  }

  push(events: readonly WatchEvent[]): void {
    if (this.closed || events.length === 0) return;
    this.queue.push(...events);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  close(): void {
    this.closed = true;
    this.queue = [];
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const event of batch) {
      if (this.closed) return;
      try {
        this.handler(event);
      } catch (error) {
        process.emitWarning(`a resource store watch handler threw: ${String(error)}`, "TrellisWatchHandler");
      }
    }
  }
}
