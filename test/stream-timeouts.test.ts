// A gRPC caller's grpc-timeout tightens the route timeout (never loosens it) and is passed upstream when the proxy's
// deadline is tighter; max_stream_duration bounds the whole exchange; gRPC statuses named in retry_on are retried.
// Timed parts run on an injected clock.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type http from "node:http";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ManualClock } from "../src/api/clock.ts";
import { startProxy } from "./support/proxies.ts";
import { startEchoServer } from "./support/upstreams.ts";
import { h2request, request } from "./support/clients.ts";
import {
  HTTP2_UPSTREAM,
  allDomains,
  bootstrap,
  httpListener,
  staticCluster,
  type Raw,
} from "./support/envoy-config.ts";
import { waitFor } from "./support/wait.ts";

const GRPC = { "content-type": "application/grpc", te: "trailers" };

function routeTo(route: Raw): Raw {
  return allDomains([{ name: "g", match: { prefix: "/" }, route: { cluster: "app", ...route } }]);
}

describe("grpc-timeout", () => {
  test("a shorter grpc-timeout ends the call at the caller's deadline with DEADLINE_EXCEEDED", async () => {
    const clock = new ManualClock();
    const held: http.ServerResponse[] = [];
    const upstream = await startEchoServer("hang", (_req, res) => void held.push(res));
    const proxy = await startProxy(
      bootstrap([httpListener("in", routeTo({ timeout: "15s" }))], [staticCluster("app", [upstream.port])]),
      clock,
    );
    const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
    try {
      const reply = h2request(session, { ":method": "POST", ":path": "/svc/M", ...GRPC, "grpc-timeout": "100m" }, "");
      await waitFor(() => upstream.received.length === 1);
      assert.equal(upstream.received[0]!.headers["grpc-timeout"], "100m", "the caller's own deadline passes as is");
      clock.advance(99);
      clock.advance(1);
      const r = await reply;
      assert.equal(r.status, 200);
      assert.equal(r.headers["grpc-status"], "4");
      assert.match(String(r.headers["x-trellis-details"]), /grpc_timeout_exceeded:g/);
    } finally {
      session.close();
      for (const res of held) res.destroy();
      await proxy.close();
      await upstream.close();
    }
  });

  test("a tighter route timeout or grpc_timeout_header_max is passed upstream; a non-gRPC request's header is ignored", async () => {
    const clock = new ManualClock();
    const held: http.ServerResponse[] = [];
    const upstream = await startEchoServer("hang", (_req, res) => void held.push(res));
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              {
                name: "capped",
                match: { prefix: "/capped" },
                route: { cluster: "app", timeout: "0s", max_stream_duration: { grpc_timeout_header_max: "0.5s" } },
              },
              { name: "short", match: { prefix: "/" }, route: { cluster: "app", timeout: "1s" } },
            ]),
          ),
        ],
        [staticCluster("app", [upstream.port])],
      ),
      clock,
    );
    const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
    try {
      const short = h2request(session, { ":method": "POST", ":path": "/s", ...GRPC, "grpc-timeout": "10S" }, "");
      const capped = h2request(session, { ":method": "POST", ":path": "/capped", ...GRPC, "grpc-timeout": "10S" }, "");
      const plain = h2request(session, { ":method": "POST", ":path": "/p", "grpc-timeout": "1m" }, "");
      await waitFor(() => upstream.received.length === 3);
      const byUrl = new Map(upstream.received.map((r) => [r.url, r.headers["grpc-timeout"]]));
      assert.equal(byUrl.get("/s"), "1000m");
      assert.equal(byUrl.get("/capped"), "500m");
      assert.equal(byUrl.get("/p"), "1m", "not gRPC: passed through, not acted on");
      clock.advance(500);
      assert.equal((await capped).headers["grpc-status"], "4");
      clock.advance(500);
      assert.equal((await short).headers["grpc-status"], "4");
      assert.equal((await plain).status, 504, "the plain request's 1 s route timeout, not its 1 ms header");
    } finally {
      session.close();
      for (const res of held) res.destroy();
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("max_stream_duration", () => {
  test("the exchange is answered 408 UMSDR when it lasts longer, whatever the route timeout", async () => {
    const clock = new ManualClock();
    const held: http.ServerResponse[] = [];
    const upstream = await startEchoServer("hang", (_req, res) => void held.push(res));
    const proxy = await startProxy(
      bootstrap(
        [httpListener("in", routeTo({ timeout: "0s", max_stream_duration: { max_stream_duration: "3s" } }))],
        [staticCluster("app", [upstream.port])],
      ),
      clock,
    );
    try {
      const reply = request(proxy.port());
      await waitFor(() => upstream.received.length === 1);
      clock.advance(2999);
      clock.advance(1);
      const r = await reply;
      assert.equal(r.status, 408);
      assert.equal(r.headers["x-trellis-response-flags"], "UMSDR");
      assert.match(String(r.headers["x-trellis-details"]), /max_stream_duration_reached:g/);
    } finally {
      for (const res of held) res.destroy();
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("gRPC retries", () => {
  interface EchoRequest {
    message: string;
  }
  const definition = protoLoader.loadSync(fileURLToPath(new URL("./fixtures/echo.proto", import.meta.url)), {
    keepCase: true,
  });
  const Echo = (
    grpc.loadPackageDefinition(definition) as unknown as { trellis: { test: { Echo: grpc.ServiceClientConstructor } } }
  ).trellis.test.Echo;

  test("retry_on unavailable retries a call the server refused with UNAVAILABLE; other statuses pass through", async () => {
    const calls = new Map<string, number>();
    const server = new grpc.Server();
    server.addService(Echo.service, {
      Unary(call: grpc.ServerUnaryCall<EchoRequest, unknown>, cb: grpc.sendUnaryData<unknown>) {
        const m = call.request.message;
        const n = (calls.get(m) ?? 0) + 1;
        calls.set(m, n);
        if (m === "flaky" && n === 1) return cb({ code: grpc.status.UNAVAILABLE, details: "warming up" });
        if (m === "broken") return cb({ code: grpc.status.INTERNAL, details: "bug" });
        cb(null, { message: `echo:${m}`, index: n });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            routeTo({
              retry_policy: {
                retry_on: "unavailable,cancelled",
                num_retries: 2,
                retry_back_off: { base_interval: "0.001s" },
              },
            }),
          ),
        ],
        [staticCluster("app", [port], HTTP2_UPSTREAM)],
      ),
    );
    const client = new Echo(`127.0.0.1:${proxy.port()}`, grpc.credentials.createInsecure());
    const unary = (message: string) =>
      new Promise<{ err: grpc.ServiceError | null; reply: unknown }>((resolve) =>
        (
          client as unknown as {
            Unary: (r: EchoRequest, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void;
          }
        ).Unary({ message }, (err, reply) => resolve({ err, reply })),
      );
    try {
      const flaky = await unary("flaky");
      assert.equal(flaky.err, null);
      assert.equal(calls.get("flaky"), 2);
      const broken = await unary("broken");
      assert.equal(broken.err?.code, grpc.status.INTERNAL);
      assert.equal(calls.get("broken"), 1, "INTERNAL is not in retry_on");
    } finally {
      client.close();
      await proxy.close();
      server.forceShutdown();
    }
  });
});

describe("route idle_timeout", () => {
  for (const protocol of ["HTTP/1.1", "HTTP/2"] as const)
    test(`replaces stream_idle_timeout for the route's requests, shorter or off (${protocol})`, async () => {
      const clock = new ManualClock();
      const held: http.ServerResponse[] = [];
      const upstream = await startEchoServer("hang", (_req, res) => void held.push(res));
      const proxy = await startProxy(
        bootstrap(
          [
            httpListener(
              "in",
              allDomains([
                {
                  name: "short",
                  match: { prefix: "/short" },
                  route: { cluster: "app", timeout: "0s", idle_timeout: "2s" },
                },
                {
                  name: "off",
                  match: { prefix: "/off" },
                  route: { cluster: "app", timeout: "0s", idle_timeout: "0s" },
                },
              ]),
              { stream_idle_timeout: "10s" },
            ),
          ],
          [staticCluster("app", [upstream.port])],
        ),
        clock,
      );
      const session = protocol === "HTTP/2" ? http2.connect(`http://127.0.0.1:${proxy.port()}`) : undefined;
      const send = (path: string) =>
        session ? h2request(session, { ":path": path }) : request(proxy.port(), { path });
      try {
        const short = send("/short");
        await waitFor(() => upstream.received.length === 1);
        clock.advance(1999);
        clock.advance(1);
        const r = await short;
        assert.equal(r.status, 408);
        assert.equal(r.headers["x-trellis-response-flags"], "SI");
        const off = send("/off");
        let answered = false;
        void off.then(() => (answered = true));
        await waitFor(() => upstream.received.length === 2);
        clock.advance(60_000);
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(answered, false, "idle_timeout 0 turns the stream idle timeout off for the route");
        held[1]!.writeHead(200, { "content-length": "2" }).end("ok");
        assert.equal((await off).status, 200);
      } finally {
        session?.close();
        for (const res of held) res.destroy();
        await proxy.close();
        await upstream.close();
      }
    });
});
