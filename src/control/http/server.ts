// The control plane's HTTP API (default port 15014): resources (apply, get, delete), the registry, proxy status
// and configuration, analysis. Handlers are registered by the parts of the control plane; this file serves them.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { TrellisError } from "../../api/errors.ts";
import { ApiRouter, readBody, send, type ApiResponse } from "./router.ts";

/** Largest request body accepted (a multi-document apply of many resources fits well within it). */
const BODY_LIMIT = 8 * 1024 * 1024;

export interface ApiServer {
  readonly port: number;
  readonly router: ApiRouter;
  close(): Promise<void>;
}

export async function startApiServer(
  address: string,
  port: number,
  log: (line: string) => void = () => {},
): Promise<ApiServer> {
  const router = new ApiRouter();
  const server = http.createServer((req, res) => {
    void handle(req, res);
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://control");
    const method = req.method ?? "GET";
    const found = router.match(method, url.pathname);
    if ("status" in found) {
      send(res, { status: found.status, json: { errors: [`${method} ${url.pathname}: no such endpoint`] } });
      return;
    }
    let response: ApiResponse;
    try {
      const body = await readBody(req, BODY_LIMIT);
      if (body === undefined) {
        send(res, { status: 413, json: { errors: [`body larger than ${BODY_LIMIT} bytes`] } });
        return;
      }
      response = await found.handler({
        method,
        path: url.pathname,
        query: url.searchParams,
        params: found.params,
        body,
        headers: req.headers,
      });
    } catch (err) {
      // A handler's failure is this request's 500, never the server's end.
      const e = err as Error;
      log(`control API: ${method} ${url.pathname}: ${e.stack ?? e.message}`);
      const code = err instanceof TrellisError ? err.code : "TRELLIS_INTERNAL";
      response = { status: 500, json: { errors: [`${code}: ${e.message}`] } };
    }
    send(res, response);
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    router,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
