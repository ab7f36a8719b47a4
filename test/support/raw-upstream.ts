// An upstream that records the exact bytes the proxy sends it, per connection, and answers each complete request
// (framed by the project's strict codec, through the smuggling driver) with a fixed 200 unless told otherwise. Tests
// compare what reached it byte for byte.

import net from "node:net";
import type { AddressInfo } from "node:net";
import { drive, type DrivenRequest } from "../smuggling/drive.ts";

export interface RawUpstream {
  port: number;
  /** The bytes of each connection, in the order the connections were accepted. */
  connections: Buffer[];
  /** Every complete request received, in arrival order. */
  requests: DrivenRequest[];
  /** All bytes of all connections as latin1, connections in order. */
  text(): string;
  /** Every byte received, on any connection, in arrival order (latin1): tests that share an upstream diff it. */
  arrived(): string;
  close(): Promise<void>;
}

/** Answers a request; the default writes `200 ok` with a length. */
export type RawResponder = (request: DrivenRequest, socket: net.Socket) => void;

const OK = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

export async function startRawUpstream(respond?: RawResponder): Promise<RawUpstream> {
  const connections: Buffer[] = [];
  const requests: DrivenRequest[] = [];
  const sockets = new Set<net.Socket>();
  let arrived = "";
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    const index = connections.push(Buffer.alloc(0)) - 1;
    let answered = 0;
    s.on("data", (c: Buffer) => {
      connections[index] = Buffer.concat([connections[index]!, c]);
      arrived += c.toString("latin1");
      const verdict = drive([connections[index]!]);
      for (; answered < verdict.requests.length; answered++) {
        const r = verdict.requests[answered]!;
        requests.push(r);
        if (respond) respond(r, s);
        else s.write(OK);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    requests,
    text: () => Buffer.concat(connections).toString("latin1"),
    arrived: () => arrived,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
