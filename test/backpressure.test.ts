// Flow control end to end: a client that stops reading makes the upstream stop writing (each hop pauses its
// source instead of buffering without bound), and everything arrives once it reads again.

import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startChain } from "./support/proxies.ts";
import { startEchoServer } from "./support/upstreams.ts";

const CHUNK = Buffer.alloc(1 << 20, 0x61);
const TOTAL_CHUNKS = 64;

/** Waits for something the event loop will make true (no fixed sleep standing in for it). */
async function waitFor(cond: () => boolean, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > limitMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

test(
  "a paused client pauses the upstream through two sidecars; resuming delivers every byte",
  { timeout: 60_000 },
  async () => {
    let written = 0;
    let blocked = false;
    const upstream = await startEchoServer("big", (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": CHUNK.length * TOTAL_CHUNKS });
      const pump = (): void => {
        while (written < TOTAL_CHUNKS) {
          written++;
          if (!res.write(CHUNK)) {
            blocked = true;
            res.once("drain", () => {
              blocked = false;
              pump();
            });
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const chain = await startChain(upstream.port);
    try {
      let received = 0;
      const done = new Promise<number>((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port: chain.port, path: "/download" }, (res) => {
          res.pause();
          // While the client reads nothing, the upstream must end up blocked well short of the whole body.
          waitFor(() => blocked)
            .then(() => {
              assert.ok(
                written < TOTAL_CHUNKS / 2,
                `upstream wrote ${written} of ${TOTAL_CHUNKS} MiB with nobody reading`,
              );
              res.on("data", (c: Buffer) => (received += c.length));
              res.on("end", () => resolve(received));
              res.resume();
            })
            .catch(reject);
        });
        req.on("error", reject);
      });
      assert.equal(await done, CHUNK.length * TOTAL_CHUNKS);
    } finally {
      await chain.close();
      await upstream.close();
    }
  },
);
