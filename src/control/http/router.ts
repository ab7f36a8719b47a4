// A small method + path-pattern router for the control plane's HTTP API: "/api/v1/resources/:kind/:namespace/:name".
// Not a hot path; clarity over speed.

import type { IncomingMessage, ServerResponse } from "node:http";

export type Params = Record<string, string>;
export type RouteHandler = (req: ApiRequest) => Promise<ApiResponse> | ApiResponse;

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  params: Params;
  /** The body as text (empty when none). */
  body: string;
  headers: IncomingMessage["headers"];
}

export interface ApiResponse {
  status: number;
  /** JSON-serialised unless `text` is set. */
  json?: unknown;
  text?: string;
  contentType?: string;
}

interface Route {
  method: string;
  parts: string[];
  handler: RouteHandler;
}

export class ApiRouter {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: RouteHandler): this {
    this.routes.push({ method, parts: pattern.split("/").filter(Boolean), handler });
    return this;
  }

  /** The handler and path parameters for a request, or why there is none (404 / 405). */
  match(method: string, path: string): { handler: RouteHandler; params: Params } | { status: 404 | 405 } {
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchParts(route.parts, parts);
      if (params === undefined) continue;
      pathMatched = true;
      if (route.method === method) return { handler: route.handler, params };
    }
    return { status: pathMatched ? 405 : 404 };
  }
}

function matchParts(pattern: string[], parts: string[]): Params | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith(":")) params[p.slice(1)] = parts[i]!;
    else if (p !== parts[i]) return undefined;
  }
  return params;
}

/** Reads a request body up to `limit` bytes (a larger one is refused with 413 by the caller). */
export function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export function send(res: ServerResponse, response: ApiResponse): void {
  const body = response.text ?? `${JSON.stringify(response.json ?? {}, null, 2)}\n`;
  res.writeHead(response.status, {
    "content-type": response.contentType ?? (response.text !== undefined ? "text/plain" : "application/json"),
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}
