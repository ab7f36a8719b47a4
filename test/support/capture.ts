// Helpers of the capture tests (capture-*.test.ts): named TCP servers that answer with what they received, a
// client that sends and half-closes, a server-first server (it greets at once) and its silent client, a tcp_proxy
// filter chain.

import net from "node:net";
import type { Raw } from "./envoy-config.ts";

/** A TCP server that, once the client half-closes, answers "<name>|<every byte it received>" and closes. */
export async function namedServer(
  name: string,
  host = "127.0.0.1",
  port = 0,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => s.end(Buffer.concat([Buffer.from(`${name}|`), ...chunks])));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Connects, writes `bytes`, half-closes, and resolves with everything the other side sent before closing. */
export function exchange(
  port: number,
  bytes: Buffer | string,
  host = "127.0.0.1",
  localAddress?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true, localAddress });
    const chunks: Buffer[] = [];
    socket.on("connect", () => socket.end(bytes));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

/** A server that greets every connection at once ("220 <name>\r\n"), as SMTP does, and then closes it. */
export async function greetingServer(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.end(`220 ${name}\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sends only `prefix` (a PROXY header, say) and waits for whatever the server says, never half-closing first. */
export function greeting(port: number, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.on("connect", () => socket.write(prefix));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

export function tcpChain(cluster: string, match?: Raw): Raw {
  return {
    ...(match === undefined ? {} : { filter_chain_match: match }),
    filters: [
      {
        name: "envoy.filters.network.tcp_proxy",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
          stat_prefix: cluster,
          cluster,
        },
      },
    ],
  };
}

/** Polls `check` on the event loop (no timing assumed) until it holds, or fails after `tries` turns. */
export async function until(check: () => boolean, what: string, tries = 2000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
