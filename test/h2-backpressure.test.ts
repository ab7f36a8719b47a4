// Issue 9, finding 5 (HTTP/2 half): a request body that waits for its upstream — queued behind max_connections, or
// written to an upstream that does not read — is held back by flow control within the listener's
// per_connection_buffer_limit_bytes, instead of being taken in whole. What the proxy holds is observable exactly as
// a client sees it: the bytes the flow-control windows let it send.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { H2Client, S, T, headers, requestFields } from "./support/h2-wire.ts";
import { H2_CODECS, startH2Sidecar, type H2Sidecar } from "./support/h2-sidecar.ts";

const LIMIT = 256 * 1024;
const BODY = 64 * 1024 * 1024;

/** An upstream that accepts connections and never reads from them, nor answers. */
async function heldUpstream(): Promise<{ port: number; accepted: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    s.pause();
    s.on("error", () => {});
    sockets.add(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return sockets.size;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

for (const codec of H2_CODECS) {
  describe(`HTTP/2 request bodies waiting for their upstream (codec ${codec})`, () => {
    let upstream: Awaited<ReturnType<typeof heldUpstream>>;
    let sidecar: H2Sidecar;
    before(async () => {
      upstream = await heldUpstream();
      sidecar = await startH2Sidecar(codec, {
        upstreamPort: upstream.port,
        listener: { per_connection_buffer_limit_bytes: LIMIT },
        cluster: { circuit_breakers: { thresholds: [{ max_connections: 1, max_pending_requests: 100 }] } },
      });
    });
    after(async () => {
      await sidecar.close();
      upstream.close();
    });

    test("the stream window the proxy announces is the listener's buffer limit", async () => {
      const c = await H2Client.open(sidecar.port);
      try {
        await c.frame((f) => f.type === T.SETTINGS);
        assert.equal(c.peerSetting(S.INITIAL_WINDOW_SIZE), LIMIT);
      } finally {
        c.close();
      }
    });

    test("a body queued behind max_connections: the client can send no more than the buffer limit", async () => {
      const c = await H2Client.open(sidecar.port);
      try {
        // Stream 1 takes the cluster's only connection and keeps it (its body never ends); stream 3 waits in the
        // pool's queue with a 64 MiB body.
        c.write(headers(1, requestFields("/hold", [], "POST")));
        c.write(headers(3, requestFields("/queued", [], "POST")));
        const sent = await c.sendWithinWindows(3, BODY);
        assert.ok(sent <= LIMIT, `the proxy took ${sent} bytes of a queued body (limit ${LIMIT})`);
        assert.ok(sent > 0);
        assert.equal(upstream.accepted, 1, "one upstream connection, as max_connections says");
      } finally {
        c.close();
      }
    });

    test("several queued bodies on one connection: each held within the limit (Envoy's per-stream bound)", async () => {
      const c = await H2Client.open(sidecar.port);
      try {
        c.write(headers(1, requestFields("/hold", [], "POST")));
        const queued = [3, 5, 7, 9];
        for (const id of queued) c.write(headers(id, requestFields(`/queued-${id}`, [], "POST")));
        let total = 0;
        for (const id of queued) {
          const sent = await c.sendWithinWindows(id, BODY);
          assert.ok(sent <= LIMIT, `stream ${id}: ${sent} bytes`);
          total += sent;
        }
        // What one connection can make the proxy hold grows with its open streams (at most
        // SETTINGS_MAX_CONCURRENT_STREAMS of them), as in Envoy, whose limit is per stream too.
        assert.ok(total <= queued.length * LIMIT);
      } finally {
        c.close();
      }
    });

    test("a body going to an upstream that does not read: held within the limit plus what the sockets hold", async () => {
      const c = await H2Client.open(sidecar.port);
      try {
        c.write(headers(1, requestFields("/unread", [], "POST")));
        const sent = await c.sendWithinWindows(1, BODY);
        // The kernel's socket buffers (both ends of the upstream connection) take what they take; past them, the
        // proxy stops reading and the client stops being granted credit.
        assert.ok(sent < 32 * 1024 * 1024, `the proxy took ${sent} bytes for an upstream that reads nothing`);
      } finally {
        c.close();
      }
    });
  });
}
