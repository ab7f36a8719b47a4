// The sidecar's admin server (Envoy's :15000): /ready, /config_dump, /clusters, /stats, /stats/prometheus, …
// node:http is fine here: this is not the data path. Whatever a client sends, the server answers or closes that
// one connection; it never throws into the process.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TrellisError } from "../../api/errors.ts";
import type { AdminRequestLog } from "./access-log.ts";
import { handleAdminRequest, type AdminReply } from "./handlers.ts";
import type { AdminTarget } from "./target.ts";

export type { AdminTarget, ClusterStatus, DrainOptions, EndpointStatus, ServerState } from "./target.ts";

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Splits a request target into path and query without URL's surprises ("//x" is a path here, not a host). */
function splitTarget(raw: string): { path: string; query: URLSearchParams } {
  let target = raw;
  if (/^https?:\/\//i.test(target)) {
    const u = new URL(target);
    target = u.pathname + u.search;
  }
  const q = target.indexOf("?");
  const path = q >= 0 ? target.slice(0, q) : target;
  return { path: path === "" ? "/" : path, query: new URLSearchParams(q >= 0 ? target.slice(q + 1) : "") };
}

function send(res: ServerResponse, reply: AdminReply, logged?: () => void): number {
  const body = Buffer.from(reply.body, "utf8");
  res.writeHead(reply.status, {
    "content-type": reply.contentType,
    "content-length": body.length,
    "cache-control": "no-cache, max-age=0",
    "x-content-type-options": "nosniff",
    ...reply.headers,
  });
  const after = reply.after;
  res.end(body, () => {
    logged?.();
    if (after === undefined) return;
    // The reply is on the wire; a failure in the target's own shutdown is its concern, not the server's.
    try {
      after();
    } catch {
      /* ignored on purpose */
    }
  });
  return body.length;
}

function onRequest(
  target: AdminTarget,
  req: IncomingMessage,
  res: ServerResponse,
  log: AdminRequestLog | undefined,
  now: () => number,
): void {
  const startMs = log === undefined ? 0 : now();
  res.on("error", () => {});
  // Bodies are never read; consume them so keep-alive connections stay usable.
  req.resume();
  let reply: AdminReply;
  try {
    const { path, query } = splitTarget(req.url ?? "/");
    reply = handleAdminRequest(target, req.method ?? "GET", path, query);
  } catch (err) {
    reply = {
      status: 400,
      contentType: "text/plain; charset=UTF-8",
      body: `bad request: ${err instanceof Error ? err.message : String(err)}\n`,
    };
  }
  try {
    let bytes = 0;
    bytes = send(
      res,
      reply,
      log === undefined
        ? undefined
        : () => {
            try {
              log(req, reply.status, bytes, startMs);
            } catch {
              /* a log line must never fail the admin server */
            }
          },
    );
  } catch {
    res.destroy();
  }
}

export function startAdminServer(
  target: AdminTarget,
  address: { address: string; port: number },
  log?: { request: AdminRequestLog; now: () => number },
): Promise<AdminServer> {
  const server = createServer({ keepAliveTimeout: 5000 }, (req, res) =>
    onRequest(target, req, res, log?.request, log?.now ?? (() => 0)),
  );
  server.on("clientError", (_err, socket) => {
    if (socket.writable && !socket.destroyed) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    const onListenError = (err: Error) =>
      reject(
        new TrellisError(
          "TRELLIS_ADMIN_LISTEN",
          `admin server cannot listen on ${address.address}:${address.port}: ${err.message}`,
          { cause: err },
        ),
      );
    server.once("error", onListenError);
    server.listen(address.port, address.address, () => {
      server.off("error", onListenError);
      // Later server errors (e.g. EMFILE on accept) must not take the proxy down.
      server.on("error", () => {});
      const bound = server.address() as AddressInfo;
      resolve({
        address: bound.address,
        port: bound.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
