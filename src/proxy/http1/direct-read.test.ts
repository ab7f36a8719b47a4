import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { once } from "node:events";
import { readDirect } from "./direct-read.ts";

/** A listening server on port 0 and one client connected to it; the accepted socket is handed to the test. */
async function pair(): Promise<{ server: net.Server; client: net.Socket; accepted: net.Socket }> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const acceptedP = once(server, "connection");
  const client = net.connect(port, "127.0.0.1");
  await once(client, "connect");
  const [accepted] = (await acceptedP) as [net.Socket];
  return { server, client, accepted };
}

test("an accepted socket's reads reach the target directly, each a copy it may keep", async () => {
  const { server, client, accepted } = await pair();
  const got: Buffer[] = [];
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  const reader = readDirect(accepted, (chunk) => {
    got.push(chunk);
    if (Buffer.concat(got).length >= 6) resolve();
    return true;
  });
  assert.ok(reader, "Node 20's net.Socket supports direct reads");
  let dataEvents = 0;
  accepted.on("data", () => dataEvents++);
  client.write("abc");
  client.write("def");
  await done;
  assert.equal(Buffer.concat(got).toString(), "abcdef");
  assert.equal(dataEvents, 0, "no 'data' event while reading directly");
  // Later reads reuse the shared buffer: the chunks already delivered must not change.
  const first = got[0]!.toString();
  client.write("zzzzzz");
  await new Promise<void>((r) => {
    reader!.target = () => (r(), true);
  });
  assert.equal(got[0]!.toString(), first);
  client.destroy();
  accepted.destroy();
  server.close();
});

test("pause() stops direct reads and resume() restarts them; 'end' still arrives", async () => {
  const { server, client, accepted } = await pair();
  const got: string[] = [];
  let wake: (() => void) | undefined;
  readDirect(accepted, (chunk) => {
    got.push(chunk.toString());
    wake?.();
    return true;
  });
  accepted.pause();
  client.write("one");
  // Give the loopback segment every chance to arrive: a write callback and a full round trip through the peer.
  await new Promise<void>((r) => client.write("", () => r()));
  await new Promise<void>((r) => setImmediate(r));
  assert.deepEqual(got, [], "a paused socket delivers nothing");
  const arrived = new Promise<void>((r) => (wake = r));
  accepted.resume();
  await arrived;
  assert.equal(got.join(""), "one");
  const ended = once(accepted, "end");
  client.end();
  await ended;
  accepted.destroy();
  server.close();
});

test("toReadable() hands later reads back to 'data' events (an upgraded connection's tunnel)", async () => {
  const { server, client, accepted } = await pair();
  const reader = readDirect(accepted, () => true);
  assert.ok(reader);
  reader.toReadable();
  const data = once(accepted, "data");
  client.write("tunnel bytes");
  const [chunk] = (await data) as [Buffer];
  assert.equal(chunk.toString(), "tunnel bytes");
  client.destroy();
  accepted.destroy();
  server.close();
});

test("a socket that is not a plain net.Socket is left alone", () => {
  class Wrapped extends net.Socket {}
  assert.equal(
    readDirect(new Wrapped(), () => true),
    undefined,
  );
});
