// The xDS relay of `trellis run --transparent`: the control plane listens on the host's 127.0.0.1, which a process
// inside the run's network namespace cannot reach (its 127.0.0.1 is its own). A Unix socket is a path in the file
// system, which every namespace sees: `trellis run` listens on one (under /run/trellis/) and pipes each connection
// to the control plane's ADS address, and the sidecar is started with `--xds unix:<path>` (gRPC's own syntax).

import fs from "node:fs";
import net from "node:net";

export interface Relay {
  readonly path: string;
  close(): Promise<void>;
}

/** Listens on `path` (a stale socket file there is replaced); each connection is piped to `target` (HOST:PORT). */
export async function startRelay(path: string, target: string, log: (line: string) => void): Promise<Relay> {
  const colon = target.lastIndexOf(":");
  const host = target.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(target.slice(colon + 1));
  fs.rmSync(path, { force: true });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inside) => {
    const upstream = net.connect({ host, port });
    sockets.add(inside).add(upstream);
    const end = (): void => {
      inside.destroy();
      upstream.destroy();
      sockets.delete(inside);
      sockets.delete(upstream);
    };
    upstream.once("error", (err) => {
      log(`xds relay: ${target}: ${err.message}`);
      end();
    });
    inside.once("error", end);
    inside.once("close", end);
    upstream.once("close", end);
    inside.pipe(upstream).pipe(inside);
  });
  server.on("error", (err) => log(`xds relay ${path}: ${err.message}`));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          fs.rmSync(path, { force: true });
          resolve();
        });
      }),
  };
}
