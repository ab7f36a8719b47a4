// gRPC through the HTTP/2 codec on both sides: @grpc/grpc-js client → H2 downstream → H2ConnectionPool →
// @grpc/grpc-js server. Proves messages, trailers and grpc-status (Trailers-Only included) pass through, and that
// the proxy's own local replies reach a gRPC client as gRPC statuses.

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import type net from "node:net";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ManualClock } from "../../api/clock.ts";
import { sendLocalReply } from "../http/local-reply.ts";
import { createH2Downstream } from "./downstream.ts";
import type { H2Downstream } from "./downstream.ts";
import { H2ConnectionPool } from "./upstream-pool.ts";
import { listenWith, passThrough } from "./test-support.ts";

interface EchoRequest {
  message: string;
  count: number;
  failCode: number;
}
interface EchoReply {
  message: string;
  index: number;
}

// The suite-wide test service (test/fixtures), shared with the end-to-end gRPC tests.
const PROTO = fileURLToPath(new URL("../../../test/fixtures/echo.proto", import.meta.url));
const definition = protoLoader.loadSync(PROTO, { keepCase: false, defaults: true });
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  trellis: { test: { Echo: grpc.ServiceClientConstructor } };
};
const Echo = loaded.trellis.test.Echo;

const unary: grpc.handleUnaryCall<EchoRequest, EchoReply> = (call, callback) => {
  const req = call.request;
  if (req.failCode !== 0) {
    const md = new grpc.Metadata();
    md.set("x-why", "asked-to-fail");
    callback({ code: req.failCode, details: `failing: ${req.message}`, metadata: md });
    return;
  }
  const md = new grpc.Metadata();
  md.set("x-trailer", "t1");
  callback(null, { message: `echo: ${req.message}`, index: 0 }, md);
};

const serverStream: grpc.handleServerStreamingCall<EchoRequest, EchoReply> = (call) => {
  const { message, count } = call.request;
  for (let i = 0; i < count; i++) call.write({ message: `${message} #${i}`, index: i });
  const md = new grpc.Metadata();
  md.set("x-count", String(count));
  call.end(md);
};

let server: grpc.Server;
let pool: H2ConnectionPool;
let proxy: H2Downstream;
let proxyListener: net.Server;
let proxyPort = 0;
let client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function callUnary(
  c: grpc.Client & Record<string, (...args: unknown[]) => unknown>,
  req: Partial<EchoRequest>,
): Promise<{ err: grpc.ServiceError | null; reply: EchoReply | undefined; trailers: grpc.Metadata | undefined }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = c.Unary(req, (err: grpc.ServiceError | null, reply: EchoReply | undefined) => {
      // The status event carries the trailers; it comes right after the callback.
      setImmediate(() => resolve({ err, reply, trailers }));
    }) as grpc.ClientUnaryCall;
    call.on("status", (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

before(async () => {
  server = new grpc.Server();
  server.addService(Echo.service, { Unary: unary, ServerStream: serverStream });
  const upstreamPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  const clock = new ManualClock();
  pool = new H2ConnectionPool(
    { address: "127.0.0.1", port: upstreamPort },
    { clock, connectTimeoutMs: 1000, idleTimeoutMs: 0, maxRequestsPerConnection: 0 },
  );
  proxy = createH2Downstream(passThrough(pool), { clock, streamIdleTimeoutMs: 0 });
  ({ port: proxyPort, server: proxyListener } = await listenWith(proxy));
  client = new Echo(`127.0.0.1:${proxyPort}`, grpc.credentials.createInsecure()) as typeof client;
});

after(() => {
  client.close();
  proxy.close();
  proxyListener.close();
  pool.close();
  server.forceShutdown();
});

describe("gRPC through the H2 downstream and H2ConnectionPool", () => {
  test("unary: the reply and the trailing metadata pass through", async () => {
    const { err, reply, trailers } = await callUnary(client, { message: "hi" });
    assert.equal(err, null);
    assert.equal(reply?.message, "echo: hi");
    assert.deepEqual(trailers?.get("x-trailer"), ["t1"]);
  });

  test("unary error: grpc-status, grpc-message and metadata of a Trailers-Only answer pass through", async () => {
    const { err, trailers } = await callUnary(client, { message: "x", failCode: grpc.status.NOT_FOUND });
    assert.equal(err?.code, grpc.status.NOT_FOUND);
    assert.equal(err?.details, "failing: x");
    assert.deepEqual(trailers?.get("x-why"), ["asked-to-fail"]);
  });

  test("server streaming: every message in order, then the trailers with status OK", async () => {
    const got: EchoReply[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve, reject) => {
      const call = client.ServerStream({ message: "m", count: 50 }) as grpc.ClientReadableStream<EchoReply>;
      call.on("data", (r: EchoReply) => got.push(r));
      call.on("status", resolve);
      call.on("error", (e: grpc.ServiceError) => (e.code === grpc.status.OK ? undefined : reject(e)));
    });
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(status.metadata.get("x-count"), ["50"]);
    assert.equal(got.length, 50);
    got.forEach((r, i) => {
      assert.equal(r.index, i);
      assert.equal(r.message, `m #${i}`);
    });
  });

  test("many concurrent unary calls share the one upstream session", async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => callUnary(client, { message: `n${i}` })));
    results.forEach((r, i) => assert.equal(r.reply?.message, `echo: n${i}`));
    assert.equal(pool.connections, 1);
  });
});

describe("local replies to a gRPC client", () => {
  async function localProxy(status: number, flag: string, details: string) {
    const d = createH2Downstream((ex) => sendLocalReply(ex, status, flag, details), {
      clock: new ManualClock(),
      streamIdleTimeoutMs: 0,
    });
    const { port, server: l } = await listenWith(d);
    const c = new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as typeof client;
    return {
      c,
      close: () => {
        c.close();
        d.close();
        l.close();
      },
    };
  }

  test("503 UH becomes UNAVAILABLE with the details as message and the x-trellis headers", async () => {
    const { c, close } = await localProxy(503, "UH", "no_healthy_upstream:outbound|9080||reviews");
    try {
      const { err, trailers } = await callUnary(c, { message: "x" });
      assert.equal(err?.code, grpc.status.UNAVAILABLE);
      assert.equal(err?.details, "no_healthy_upstream:outbound|9080||reviews");
      assert.deepEqual(trailers?.get("x-trellis-response-flags"), ["UH"]);
      assert.deepEqual(trailers?.get("x-trellis-details"), ["no_healthy_upstream:outbound|9080||reviews"]);
    } finally {
      close();
    }
  });

  test("504 UT (the proxy's own timeout) becomes DEADLINE_EXCEEDED; 404 NR becomes UNIMPLEMENTED", async () => {
    const ut = await localProxy(504, "UT", "upstream_response_timeout:r1");
    const nr = await localProxy(404, "NR", "route_not_found");
    try {
      assert.equal((await callUnary(ut.c, { message: "x" })).err?.code, grpc.status.DEADLINE_EXCEEDED);
      const r = await callUnary(nr.c, { message: "x" });
      assert.equal(r.err?.code, grpc.status.UNIMPLEMENTED);
      assert.equal(r.err?.details, "route_not_found");
    } finally {
      ut.close();
      nr.close();
    }
  });
});
