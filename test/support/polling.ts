// Polling for end-to-end tests that watch real processes (a gateway child, a control plane): ask until the answer
// comes, with a bound, and free ports to hand a child. Timers, not setImmediate spins: several test files share
// two cores.
import net from "node:net";

/** Calls `probe` every 50 ms until it gives a value (not undefined); fails naming `what` after `limitMs`. */
export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  limitMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A free port on 127.0.0.1 (bound, then released for a child process to take). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
