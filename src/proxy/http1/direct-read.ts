// Reads of an accepted socket delivered straight to a callback, as Node's `onread` option does for sockets it
// connects (Node offers that option only to net.connect, not to a server's sockets). A read then skips the Readable
// stream's per-read work (push, buffer bookkeeping, 'data' emit) — the largest per-event cost left on the HTTP/1.1
// hot path after the codec (bench/ANALYSIS.md).
//
// It uses what net.Socket itself does for `onread`: three per-socket fields whose symbols are read off a socket
// built with the option, and the handle's useUserBuffer(). Where any of that is missing (another Node version, a
// TLS socket) it reports false and the caller listens for 'data' as before: the fast path is an optimisation,
// never a requirement.

import net from "node:net";
import { connectionThrew } from "../listener/guard.ts";

/** Gets each read's bytes (a copy the callee may keep); returning false stops reading (like push() → false). */
export type DirectReadTarget = (chunk: Buffer) => boolean;

interface OnreadSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

/** One read buffer for every socket read this way (and for upstream connections): reads are synchronous. */
export const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

let symbols: OnreadSymbols | null | undefined;

/** The symbols net.Socket keeps its onread fields under, found once; null when this Node has none. */
function onreadSymbols(): OnreadSymbols | null {
  if (symbols !== undefined) return symbols;
  symbols = null;
  try {
    // @types/node lists `onread` only for net.connect; the constructor takes it (that is what connect passes on).
    const options = { onread: { buffer: Buffer.alloc(1), callback: () => true } } as net.SocketConstructorOpts;
    const probe = new net.Socket(options);
    const byName = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
    probe.destroy();
    const buffer = byName.get("kBuffer");
    const callback = byName.get("kBufferCb");
    const generator = byName.get("kBufferGen");
    if (buffer && callback && generator) symbols = { buffer, callback, generator };
  } catch {
    symbols = null;
  }
  return symbols;
}

interface StreamHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/**
 * A socket switched to direct reads. `target` may be replaced at any time (an upgraded connection hands its
 * bytes back to the Readable side with `toReadable()`, for a tunnel that pipes the socket).
 */
export class DirectReader {
  constructor(
    private readonly socket: net.Socket,
    public target: DirectReadTarget,
  ) {}

  /** From now on reads are pushed into the socket's Readable side again ('data' events, pipe()). */
  toReadable(): void {
    const socket = this.socket;
    this.target = (chunk) => socket.push(chunk);
  }

  /**
   * Called by Node for each read, with the number of bytes in the shared buffer. Node calls it directly, not
   * through the socket's emit, so the listener's guard (listener/guard.ts) does not see a throw here: it is caught
   * and handed to that guard (that connection closed, server.unhandled_errors counted), and reading stops.
   */
  readonly onRead = (n: number, buf: Uint8Array): boolean => {
    try {
      return this.target(copyRead(buf, n));
    } catch (err) {
      return readThrew(this.socket, err);
    }
  };
}

/** A throw escaped a direct read of `socket`: its listener's guard closes it; unguarded, it is closed and rethrown. */
function readThrew(socket: net.Socket, err: unknown): false {
  if (!connectionThrew(socket, err)) {
    socket.destroy();
    throw err;
  }
  return false;
}

/** The first `n` bytes of a shared read buffer, copied: what Node would have allocated for a 'data' event. */
export function copyRead(buf: Uint8Array, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  out.set(buf.subarray(0, n));
  return out;
}

/**
 * Switches `socket` (a plain net.Socket, not yet reading into anything but its own buffers) to direct reads into
 * `target`. Returns the reader, or undefined when this socket or this Node cannot (the caller uses 'data').
 */
export function readDirect(socket: net.Socket, target: DirectReadTarget): DirectReader | undefined {
  if (socket.constructor !== net.Socket) return undefined; // TLS and other wrappers read through their own layer
  const sym = onreadSymbols();
  const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
  if (sym === null || handle === null || typeof handle.useUserBuffer !== "function") return undefined;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[sym.buffer]) return undefined; // already reading this way
  const reader = new DirectReader(socket, target);
  handle.useUserBuffer(SHARED_READ_BUFFER);
  fields[sym.buffer] = SHARED_READ_BUFFER;
  fields[sym.callback] = reader.onRead;
  fields[sym.generator] = null;
  return reader;
}
