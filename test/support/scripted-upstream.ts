// A hand-scripted HTTP/1.1 upstream on a raw net server: it reads request heads (and Content-Length bodies) itself
// and answers with whatever bytes the test writes, so a test can send what no HTTP library would (a second
// response nobody asked for, a 101 out of the blue, a body on a 204).

import net from "node:net";
import type { AddressInfo } from "node:net";

export interface ScriptedRequest {
  /** Which accepted connection carried it (0 = the first). */
  connection: number;
  method: string;
  target: string;
  /** The head as received, request line included. */
  head: string;
  body: string;
}

/** Returns the bytes to answer `req` with; undefined writes nothing (the test writes through `socket`). */
export type ScriptedResponder = (req: ScriptedRequest, socket: net.Socket) => string | Buffer | undefined;

export interface ScriptedUpstream {
  port: number;
  received: ScriptedRequest[];
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * `beforeBody`: called once a request head is in while its Content-Length body is not; bytes it returns are written
 * at once (an early response). The request is still recorded and answered by `respond` if its body completes.
 */
export async function startScriptedUpstream(
  respond: ScriptedResponder,
  beforeBody?: (head: string) => string | undefined,
): Promise<ScriptedUpstream> {
  const received: ScriptedRequest[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((s) => {
    const connection = connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    let bytes = Buffer.alloc(0);
    let answeredEarly = -1;
    s.on("data", (c: Buffer) => {
      bytes = Buffer.concat([bytes, c]);
      for (;;) {
        const end = bytes.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = bytes.subarray(0, end).toString("latin1");
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        const bodyBytes = length ? Number(length[1]) : 0;
        if (bytes.length < end + 4 + bodyBytes) {
          if (beforeBody !== undefined && answeredEarly !== received.length) {
            answeredEarly = received.length;
            const early = beforeBody(head);
            if (early !== undefined) s.write(early);
          }
          return;
        }
        const body = bytes.subarray(end + 4, end + 4 + bodyBytes).toString("latin1");
        bytes = bytes.subarray(end + 4 + bodyBytes);
        const [method = "", target = ""] = head.split(" ", 2);
        const req: ScriptedRequest = { connection, method, target, head, body };
        received.push(req);
        const out = respond(req, s);
        if (out !== undefined) s.write(out);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
