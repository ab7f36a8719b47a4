// TLS ClientHello bytes for tests: a hand-built one (each length field can be set wrong on purpose) and a real one
// captured from node:tls, so the inspector is checked against what a TLS stack actually sends.

import net from "node:net";
import tls from "node:tls";

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

function vector16(body: Buffer): Buffer {
  return Buffer.concat([u16(body.length), body]);
}

export function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), vector16(data)]);
}

export function sniExtension(name: string): Buffer {
  const host = Buffer.from(name, "latin1");
  return extension(0, vector16(Buffer.concat([Buffer.from([0]), vector16(host)])));
}

export function alpnExtension(protocols: string[]): Buffer {
  const list = Buffer.concat(protocols.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "latin1")])));
  return extension(16, vector16(list));
}

/** A ClientHello handshake message (header included) with these extensions (undefined: no extensions block). */
export function clientHelloMessage(extensions: Buffer[] | undefined): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 3]), // legacy_version TLS 1.2
    Buffer.alloc(32, 7), // random
    Buffer.from([32]),
    Buffer.alloc(32, 9), // session id
    vector16(Buffer.from([0x13, 0x01, 0xc0, 0x2f])), // two cipher suites
    Buffer.from([1, 0]), // compression: null
    ...(extensions === undefined ? [] : [vector16(Buffer.concat(extensions))]),
  ]);
  const header = Buffer.from([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff]);
  return Buffer.concat([header, body]);
}

/** `message` cut into handshake records of at most `maxFragment` bytes. */
export function records(message: Buffer, maxFragment = 16384): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < message.length; at += maxFragment) {
    const fragment = message.subarray(at, at + maxFragment);
    out.push(Buffer.from([0x16, 3, 1]), u16(fragment.length), fragment);
  }
  return Buffer.concat(out);
}

export function clientHello(options: { sni?: string; alpn?: string[]; maxFragment?: number } = {}): Buffer {
  const ext: Buffer[] = [];
  if (options.sni !== undefined) ext.push(sniExtension(options.sni));
  ext.push(extension(10, Buffer.from([0, 2, 0, 0x1d]))); // supported_groups: x25519 (skipped by the parser)
  if (options.alpn !== undefined) ext.push(alpnExtension(options.alpn));
  return records(clientHelloMessage(ext), options.maxFragment);
}

/** What node:tls sends first when connecting with `servername` and `alpn` (the connection is then dropped). */
export async function captureClientHello(servername: string | undefined, alpn?: string[]): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve) => {
      server.once("connection", (socket) => {
        const chunks: Buffer[] = [];
        socket.on("data", (c: Buffer) => {
          chunks.push(c);
          const all = Buffer.concat(chunks);
          // One record header tells how long the hello is.
          if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
            socket.destroy();
            resolve(all);
          }
        });
      });
    });
    const client = tls.connect({ host: "127.0.0.1", port, servername, ALPNProtocols: alpn, rejectUnauthorized: false });
    client.on("error", () => {});
    const bytes = await got;
    client.destroy();
    return bytes;
  } finally {
    server.close();
  }
}
