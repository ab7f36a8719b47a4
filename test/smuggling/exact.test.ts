// The hostile HTTP/1.1 corpus with exact outcomes (exact.ts) through a real sidecar to a raw recording upstream:
// the upstream receives exactly the bytes each case states (or nothing), and the client exactly the statuses.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startProxy, type RunningProxy } from "../support/proxies.ts";
import { startRawUpstream, type RawUpstream } from "../support/raw-upstream.ts";
import { rawExchange } from "../support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "../support/envoy-config.ts";
import { exactCases, splitCases, type ExactCase } from "./exact.ts";

async function sidecar(): Promise<{ up: RawUpstream; proxy: RunningProxy; close(): Promise<void> }> {
  const up = await startRawUpstream();
  const proxy = await startProxy(
    bootstrap(
      [
        httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
          generate_request_id: false,
          upgrade_configs: [{ upgrade_type: "websocket" }],
        }),
      ],
      [staticCluster("app", [up.port])],
    ),
  );
  return {
    up,
    proxy,
    close: async () => {
      await proxy.close();
      await up.close();
    },
  };
}

/** Final statuses in the client's bytes, in order. */
function finalStatuses(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1])).filter((s) => s >= 200);
}

function checkClient(c: ExactCase, raw: string): void {
  assert.deepEqual(finalStatuses(raw), c.statuses, `client got: ${JSON.stringify(raw.slice(0, 400))}`);
  if (c.refused) {
    const last = raw.slice(raw.lastIndexOf("HTTP/1.1 "));
    assert.match(last, /x-trellis-response-flags: DPE\r\n/);
    assert.match(last, /connection: close\r\n/);
  }
  if (c.continue === true) assert.match(raw, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
  if (c.continue === false) assert.doesNotMatch(raw, /100 Continue/);
}

describe("hostile HTTP/1.1 corpus: exact bytes upstream, exact answers downstream", () => {
  for (const c of exactCases) {
    test(c.name, async () => {
      // A sidecar per case: an upstream connection left in a tunnel or half-read by one case never serves the next.
      const s = await sidecar();
      try {
        const raw = await rawExchange(s.proxy.port(), Buffer.from(c.raw, "latin1"));
        assert.equal(s.up.arrived(), c.upstream);
        checkClient(c, raw);
      } finally {
        await s.close();
      }
    });
  }
});

/** Sends `bytes` as two writes split at `at`, the second once the first is handed to the kernel; half-closes. */
function splitExchange(port: number, bytes: Buffer, at: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (err: NodeJS.ErrnoException) =>
      err.code === "ECONNRESET" ? resolve(Buffer.concat(chunks).toString("latin1")) : reject(err),
    );
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.write(bytes.subarray(0, at), () => socket.end(bytes.subarray(at)));
  });
}

describe("requests split at every byte boundary arrive exactly the same", () => {
  let s: Awaited<ReturnType<typeof sidecar>>;
  before(async () => (s = await sidecar()));
  after(() => s.close());

  for (const c of splitCases) {
    test(c.name, async () => {
      const bytes = Buffer.from(c.raw, "latin1");
      for (let at = 1; at < bytes.length; at++) {
        const mark = s.up.arrived().length;
        const raw = await splitExchange(s.proxy.port(), bytes, at);
        assert.equal(s.up.arrived().slice(mark), c.upstream, `split at ${at}`);
        checkClient(c, raw);
      }
    });
  }
});
