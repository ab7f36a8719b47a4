import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { once } from "node:events";
import { AsyncResource } from "node:async_hooks";
import { AsyncLocalStorage } from "node:async_hooks";
import { requestStream } from "./cheap-request.ts";

test("a request opened through requestStream works, in the caller's async context, and bind is restored", async () => {
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    stream.end("ok");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  const bind = AsyncResource.prototype.bind;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const storage = new AsyncLocalStorage<string>();
  // Opened before the session connects: the stream starts from the bound connect callback.
  const { body, seen } = await storage.run("caller", async () => {
    const req = requestStream(session, { ":path": "/" }, { endStream: true });
    assert.equal(AsyncResource.prototype.bind, bind, "restored at once");
    let seenInResponse: string | undefined;
    req.on("response", () => (seenInResponse = storage.getStore()));
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    await once(req, "end");
    return { body: Buffer.concat(chunks).toString(), seen: seenInResponse };
  });
  assert.equal(body, "ok");
  assert.equal(seen, "caller");
  session.close();
  server.close();
});

test("bind is restored when request() throws", () => {
  const bind = AsyncResource.prototype.bind;
  const session = http2.connect("http://127.0.0.1:1");
  session.on("error", () => {});
  session.destroy();
  assert.throws(() => requestStream(session, { ":path": "/" }, { endStream: true }));
  assert.equal(AsyncResource.prototype.bind, bind);
});
