// gRPC through two sidecars with the real @grpc/grpc-js client and server: unary, each streaming kind, deadlines,
// error statuses passing through, and the proxy's own failures answered as gRPC statuses.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { startChain, startProxy } from "./support/proxies.ts";
import { HTTP2_UPSTREAM, allDomains, bootstrap, httpListener } from "./support/envoy-config.ts";

interface EchoRequest {
  message: string;
  count?: number;
  delay_ms?: number;
  fail_code?: number;
}
interface EchoReply {
  message: string;
  index: number;
}

const definition = protoLoader.loadSync(fileURLToPath(new URL("./fixtures/echo.proto", import.meta.url)), {
  keepCase: true,
});
const pkg = grpc.loadPackageDefinition(definition) as unknown as {
  trellis: { test: { Echo: grpc.ServiceClientConstructor } };
};
const Echo = pkg.trellis.test.Echo;

type AnyCall = grpc.ServerUnaryCall<EchoRequest, EchoReply>;

/** The generated client's methods, typed for this proto. */
interface EchoClient {
  Unary(
    req: EchoRequest,
    md: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, r: EchoReply) => void,
  ): void;
  ServerStream(req: EchoRequest): grpc.ClientReadableStream<EchoReply>;
  ClientStream(cb: (err: grpc.ServiceError | null, r: EchoReply) => void): grpc.ClientWritableStream<EchoRequest>;
  Bidi(): grpc.ClientDuplexStream<EchoRequest, EchoReply>;
}
const typed = (client: grpc.Client): EchoClient => client as unknown as EchoClient;

function startGrpcServer(): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(Echo.service, {
    Unary(call: AnyCall, cb: grpc.sendUnaryData<EchoReply>) {
      const req = call.request;
      if (req.fail_code) return cb({ code: req.fail_code, details: `failing as asked: ${req.message}` });
      const reply = () => cb(null, { message: `echo:${req.message}`, index: 0 });
      if (req.delay_ms) setTimeout(reply, req.delay_ms);
      else reply();
    },
    ServerStream(call: grpc.ServerWritableStream<EchoRequest, EchoReply>) {
      for (let i = 0; i < (call.request.count ?? 1); i++) call.write({ message: call.request.message, index: i });
      call.end();
    },
    ClientStream(call: grpc.ServerReadableStream<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) {
      const parts: string[] = [];
      call.on("data", (r: EchoRequest) => parts.push(r.message));
      call.on("end", () => cb(null, { message: parts.join("+"), index: parts.length }));
    },
    Bidi(call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) {
      let i = 0;
      call.on("data", (r: EchoRequest) => call.write({ message: r.message.toUpperCase(), index: i++ }));
      call.on("end", () => call.end());
    },
  });
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve({ server, port }),
    ),
  );
}

const unary = (client: grpc.Client, req: EchoRequest, deadlineMs?: number) =>
  new Promise<EchoReply>((resolve, reject) => {
    const options = deadlineMs ? { deadline: Date.now() + deadlineMs } : {};
    typed(client).Unary(req, new grpc.Metadata(), options, (err, r) => (err ? reject(err) : resolve(r)));
  });

describe("gRPC through two sidecars", () => {
  let server: grpc.Server;
  let chain: Awaited<ReturnType<typeof startChain>>;
  let client: grpc.Client;
  before(async () => {
    const s = await startGrpcServer();
    server = s.server;
    chain = await startChain(s.port, { serverCluster: HTTP2_UPSTREAM, hopCluster: HTTP2_UPSTREAM });
    client = new Echo(`127.0.0.1:${chain.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await chain.close();
    server.forceShutdown();
  });

  test("unary", async () => {
    assert.deepEqual(await unary(client, { message: "hi" }), { message: "echo:hi", index: 0 });
  });

  test("server streaming", async () => {
    const call = typed(client).ServerStream({ message: "s", count: 5 });
    const got: number[] = [];
    await new Promise<void>((resolve, reject) => {
      call.on("data", (r: EchoReply) => got.push(r.index));
      call.on("end", resolve);
      call.on("error", reject);
    });
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
  });

  test("client streaming", async () => {
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const call = typed(client).ClientStream((err, r) => (err ? reject(err) : resolve(r)));
      for (const m of ["a", "b", "c"]) call.write({ message: m });
      call.end();
    });
    assert.deepEqual(reply, { message: "a+b+c", index: 3 });
  });

  test("bidirectional streaming", async () => {
    const call = typed(client).Bidi();
    const got: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (r: EchoReply) => {
        got.push(r.message);
        if (got.length === 3) call.end();
      });
      call.on("end", resolve);
      call.on("error", reject);
    });
    for (const m of ["x", "y", "z"]) call.write({ message: m });
    await done;
    assert.deepEqual(got, ["X", "Y", "Z"]);
  });

  test("an error status from the server passes through unchanged", async () => {
    await assert.rejects(
      unary(client, { message: "boom", fail_code: grpc.status.NOT_FOUND }),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.NOT_FOUND);
        assert.match(err.details, /failing as asked: boom/);
        return true;
      },
    );
  });

  test("deadline exceeded", async () => {
    await assert.rejects(unary(client, { message: "slow", delay_ms: 2000 }, 100), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
      return true;
    });
  });
});

describe("failures the proxy makes itself reach gRPC clients as statuses", () => {
  test("no route → UNIMPLEMENTED; no healthy upstream → UNAVAILABLE", async () => {
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "grpc",
            allDomains([{ match: { prefix: "/trellis.test.Echo/Unary" }, route: { cluster: "empty" } }]),
          ),
        ],
        [
          {
            name: "empty",
            type: "STATIC",
            connect_timeout: "1s",
            load_assignment: { cluster_name: "empty", endpoints: [] },
            ...HTTP2_UPSTREAM,
          },
        ],
      ),
    );
    const client = new Echo(`127.0.0.1:${proxy.port()}`, grpc.credentials.createInsecure());
    try {
      await assert.rejects(unary(client, { message: "x" }), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.UNAVAILABLE);
        assert.match(err.details, /no_healthy_upstream:empty/);
        assert.equal(err.metadata.get("x-trellis-response-flags")[0], "UH");
        return true;
      });
      const stream = typed(client).ServerStream({ message: "s" });
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        stream.on("error", resolve);
        stream.on("data", () => {});
      });
      assert.equal(err.code, grpc.status.UNIMPLEMENTED);
      assert.match(err.details, /route_not_found/);
    } finally {
      client.close();
      await proxy.close();
    }
  });
});
