// Real upstream servers for the tests, on 127.0.0.1 port 0: an HTTP/1.1 echo server that describes each request
// it received, and an HTTP/2 (h2c) one.

import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";

export interface EchoRecord {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  name: string;
  httpVersion: string;
}

export interface Upstream {
  port: number;
  name: string;
  /** Every request received, in order. */
  received: EchoRecord[];
  close(): Promise<void>;
}

type Responder = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

/** An HTTP/1.1 server answering 200 with a JSON description of the request (or what `respond` does). */
export async function startEchoServer(name = "upstream", respond?: Responder): Promise<Upstream> {
  const received: EchoRecord[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const record: EchoRecord = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: body.toString("utf8"),
        name,
        httpVersion: req.httpVersion,
      };
      received.push(record);
      if (respond) return respond(req, res, body);
      const out = JSON.stringify(record);
      res.writeHead(200, {
        "content-type": "application/json",
        "x-upstream": name,
        "content-length": Buffer.byteLength(out),
      });
      res.end(out);
    });
  });
  server.keepAliveTimeout = 60_000;
  return listen(server, name, received);
}

/** An h2c server with the same JSON answer. */
export async function startH2EchoServer(name = "h2-upstream"): Promise<Upstream> {
  const received: EchoRecord[] = [];
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const plain: http.IncomingHttpHeaders = {};
      for (const [k, v] of Object.entries(headers)) if (!k.startsWith(":")) plain[k] = v as string;
      const record: EchoRecord = {
        method: headers[":method"] as string,
        url: headers[":path"] as string,
        headers: { ...plain, host: headers[":authority"] as string },
        body: Buffer.concat(chunks).toString("utf8"),
        name,
        httpVersion: "2.0",
      };
      received.push(record);
      const out = JSON.stringify(record);
      stream.respond({ ":status": 200, "content-type": "application/json", "x-upstream": name });
      stream.end(out);
    });
    stream.on("error", () => {});
  });
  return listen(server, name, received);
}

async function listen(server: net.Server, name: string, received: EchoRecord[]): Promise<Upstream> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    name,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw TCP echo server. */
export async function startTcpEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on which nothing listens (bound, then released). */
/**
 * A port on 127.0.0.1 where a connect is refused. A port freed after a port-0 bind is not safe: another test in the
 * same run can be given it a moment later (CI once saw a 405 from someone else's server there). Ports below the
 * kernel's ephemeral range are never handed out for port 0 and nothing in the suite binds them, so the first one
 * found refusing stays refused.
 */
export async function closedPort(): Promise<number> {
  for (let port = 1; port < 1024; port++) {
    if (await refuses(port)) return port;
  }
  throw new Error("no port below 1024 on 127.0.0.1 refuses connections");
}

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

/**
 * An upstream that reads requests with the project's own strict codec (through the smuggling driver) instead of
 * node:http, so requests with methods node:http does not know (any token is a valid method) are counted too.
 * Answers each complete request with 200 and its body.
 */
export async function startCodecUpstream(
  drive: (pieces: readonly Buffer[]) => { requests: { head: { method: string; path: string }; body: Buffer }[] },
): Promise<{ port: number; received: { method: string; url: string; body: string }[]; close(): Promise<void> }> {
  const received: { method: string; url: string; body: string }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    let bytes = Buffer.alloc(0);
    let answered = 0;
    s.on("data", (c: Buffer) => {
      bytes = Buffer.concat([bytes, c]);
      const { requests } = drive([bytes]);
      for (; answered < requests.length; answered++) {
        const r = requests[answered]!;
        received.push({ method: r.head.method, url: r.head.path, body: r.body.toString("utf8") });
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${r.body.length}\r\n\r\n`);
        s.write(r.body);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
