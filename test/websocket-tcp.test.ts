// WebSocket (HTTP/1.1 Upgrade) echo through two sidecars, and plain TCP through tcp_proxy listeners.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { startChain, startProxy } from "./support/proxies.ts";
import { bootstrap, staticCluster, tcpListener } from "./support/envoy-config.ts";
import { closedPort, startTcpEcho } from "./support/upstreams.ts";
import { request } from "./support/clients.ts";

describe("WebSocket through two sidecars", () => {
  test("messages flow both ways, binary and text, and close cleanly", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => wss.once("listening", r));
    wss.on("connection", (ws) => {
      ws.on("message", (data, isBinary) => ws.send(isBinary ? data : `echo:${data.toString()}`, { binary: isBinary }));
    });
    const port = (wss.address() as net.AddressInfo).port;
    const chain = await startChain(port, { hcmExtra: { upgrade_configs: [{ upgrade_type: "websocket" }] } });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${chain.port}/socket`);
      await new Promise<void>((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      const next = () =>
        new Promise<{ data: Buffer; isBinary: boolean }>((r) =>
          ws.once("message", (data, isBinary) => r({ data: data as Buffer, isBinary })),
        );
      let m = next();
      ws.send("hello");
      assert.equal((await m).data.toString(), "echo:hello");
      m = next();
      const big = Buffer.alloc(300_000, 7);
      ws.send(big);
      const got = await m;
      assert.equal(got.isBinary, true);
      assert.ok(got.data.equals(big));
      const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
      ws.close(1000, "bye");
      assert.equal(await closed, 1000);
    } finally {
      await chain.close();
      wss.close();
    }
  });

  test("an upgrade the listener does not allow is refused, saying why", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((r) => wss.once("listening", r));
    const chain = await startChain((wss.address() as net.AddressInfo).port);
    try {
      const r = await request(chain.port, {
        headers: {
          connection: "upgrade",
          upgrade: "websocket",
          "sec-websocket-version": "13",
          "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
      });
      assert.equal(r.status, 403);
      assert.match(String(r.headers["x-trellis-details"]), /upgrade_failed/);
    } finally {
      await chain.close();
      wss.close();
    }
  });
});

function tcpRoundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => resolve(Buffer.concat(chunks)));
    s.on("error", reject);
    s.end(payload);
  });
}

describe("TCP proxy", () => {
  test("echo through two tcp_proxy hops, with half-close", async () => {
    const echo = await startTcpEcho();
    const server = await startProxy(
      bootstrap([tcpListener("in", { cluster: "echo" })], [staticCluster("echo", [echo.port])]),
    );
    const client = await startProxy(
      bootstrap([tcpListener("out", { cluster: "hop" })], [staticCluster("hop", [server.port()])]),
    );
    try {
      const payload = Buffer.alloc(1_000_000);
      for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
      const back = await tcpRoundTrip(client.port(), payload);
      assert.ok(back.equals(payload));
    } finally {
      await client.close();
      await server.close();
      await echo.close();
    }
  });

  test("weighted clusters spread connections", async () => {
    const a = await startTcpEcho();
    const b = await startTcpEcho();
    const proxy = await startProxy(
      bootstrap(
        [
          tcpListener("out", {
            weighted_clusters: {
              clusters: [
                { name: "a", weight: 1 },
                { name: "b", weight: 1 },
              ],
            },
          }),
        ],
        [staticCluster("a", [a.port]), staticCluster("b", [b.port])],
      ),
    );
    try {
      for (let i = 0; i < 20; i++) assert.equal((await tcpRoundTrip(proxy.port(), Buffer.from("x"))).toString(), "x");
      const text = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/stats/prometheus`)).text();
      const count = (cluster: string) =>
        Number(
          new RegExp(`envoy_cluster_upstream_cx_total\\{envoy_cluster_name="${cluster}"\\} (\\d+)`).exec(text)?.[1] ??
            0,
        );
      assert.equal(count("a") + count("b"), 20);
      assert.ok(count("a") > 0 && count("b") > 0, `a=${count("a")} b=${count("b")}`);
    } finally {
      await proxy.close();
      await a.close();
      await b.close();
    }
  });

  test("an unreachable upstream closes the downstream connection", async () => {
    const dead = await closedPort();
    const proxy = await startProxy(
      bootstrap([tcpListener("out", { cluster: "dead" })], [staticCluster("dead", [dead])]),
    );
    try {
      const back = await tcpRoundTrip(proxy.port(), Buffer.from("hello")).catch(() => Buffer.alloc(0));
      assert.equal(back.length, 0);
    } finally {
      await proxy.close();
    }
  });
});
