// A real sidecar listener for HTTP/2 hostile-input tests: the bootstrap goes through the real parser, the listener's
// codec is AUTO (as the control plane configures every sidecar) or HTTP2, and every route goes to an HTTP/1.1 echo
// upstream whose received requests the test can inspect. `stillServes` proves the process kept serving others.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import http2 from "node:http2";
import type { Clock } from "../../src/api/clock.ts";
import { startProxy, type RunningProxy } from "./proxies.ts";
import { allDomains, bootstrap, httpListener, staticCluster, type Raw } from "./envoy-config.ts";
import { startEchoServer, type Upstream } from "./upstreams.ts";
import { h2request, request } from "./clients.ts";
import { H2Client, T } from "./h2-wire.ts";

export type H2Codec = "AUTO" | "HTTP2";
export const H2_CODECS: readonly H2Codec[] = ["AUTO", "HTTP2"];

export interface H2Sidecar {
  proxy: RunningProxy;
  port: number;
  upstream: Upstream;
  codec: H2Codec;
  /** A well-behaved HTTP/2 client (and on AUTO an HTTP/1.1 one) still gets its answer from the upstream. */
  stillServes(): Promise<void>;
  close(): Promise<void>;
}

export interface H2SidecarOptions {
  clock?: Clock;
  hcm?: Raw;
  listener?: Raw;
  cluster?: Raw;
  /** An upstream other than a fresh echo server (its port). */
  upstreamPort?: number;
}

export async function startH2Sidecar(codec: H2Codec, options: H2SidecarOptions = {}): Promise<H2Sidecar> {
  const upstream = await startEchoServer("app");
  const listener = {
    ...httpListener("h2", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
      codec_type: codec,
      ...options.hcm,
    }),
    ...options.listener,
  };
  const proxy = await startProxy(
    bootstrap([listener], [staticCluster("app", [options.upstreamPort ?? upstream.port], options.cluster)]),
    options.clock,
  );
  const port = proxy.port();
  return {
    proxy,
    port,
    upstream,
    codec,
    async stillServes() {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on("error", () => {});
      try {
        const reply = await h2request(session, { ":path": "/still-serving" });
        assert.equal(reply.status, 200, `HTTP/2 client after the bad one: ${reply.status} ${reply.body}`);
        assert.equal(JSON.parse(reply.body).url, "/still-serving");
      } finally {
        session.destroy();
      }
      if (codec === "AUTO") {
        const reply = await request(port, { path: "/still-serving-h1" });
        assert.equal(reply.status, 200);
      }
    },
    async close() {
      await proxy.close();
      await upstream.close();
    },
  };
}

/**
 * The HTTP/2 conformance suite's frame: `body` runs once per listener codec (AUTO, HTTP2) against one sidecar, with
 * helpers that send hand-written frames after the preface and assert what the proxy answered.
 */
export function h2Conformance(title: string, body: (t: ConformanceContext) => void): void {
  for (const codec of H2_CODECS) {
    describe(`${title} (codec ${codec})`, () => {
      const t = new ConformanceContext(codec);
      before(() => t.start());
      after(() => t.stop());
      body(t);
    });
  }
}

export class ConformanceContext {
  sidecar!: H2Sidecar;
  constructor(readonly codec: H2Codec) {}

  async start(): Promise<void> {
    this.sidecar = await startH2Sidecar(this.codec);
  }
  async stop(): Promise<void> {
    await this.sidecar.close();
  }

  /** A connection that has sent the preface, SETTINGS and `frames` in one write. */
  open(...frames: Buffer[]): Promise<H2Client> {
    return H2Client.open(this.sidecar.port, Buffer.concat(frames));
  }

  /**
   * The proxy ends the connection with GOAWAY(`code`); the sidecar keeps serving. (Whether the TCP connection is
   * closed at once depends on node: for errors nghttp2 handles alone it stops reading and the connection's idle
   * timeout reaps the socket — see connection.test.ts.)
   */
  async goaway(code: number, ...frames: Buffer[]): Promise<void> {
    const c = await this.open(...frames);
    try {
      const g = await c.goaway();
      assert.equal(g.code, code, `GOAWAY code; frames: ${c.describe()}`);
    } finally {
      c.close();
    }
    await this.sidecar.stillServes();
  }

  /** The proxy resets `streamId` with `code` and the connection goes on; the sidecar keeps serving. */
  async rst(streamId: number, code: number, ...frames: Buffer[]): Promise<void> {
    const c = await this.open(...frames);
    try {
      const outcome = await c.stream(streamId);
      assert.equal(outcome.rst, code, `RST_STREAM code; frames: ${c.describe()}`);
      await c.roundTrip();
    } finally {
      c.close();
    }
    await this.sidecar.stillServes();
  }

  /**
   * A stream error of type `code` (RFC 9113 §5.4.2), answered with RST_STREAM on `streamId` or — as node does for
   * every error nghttp2 reports as NGHTTP2_ERR_PROTO, stream errors included — with GOAWAY(`code`), which §5.4.1
   * allows ("an endpoint MAY choose to treat a stream error as a connection error"). The sidecar keeps serving.
   */
  async streamError(streamId: number, code: number, ...frames: Buffer[]): Promise<void> {
    const c = await this.open(...frames);
    try {
      const f = await c.frame((f) => (f.type === T.RST_STREAM && f.streamId === streamId) || f.type === T.GOAWAY);
      assert.equal(f.payload.readUInt32BE(f.type === T.GOAWAY ? 4 : 0), code, c.describe());
    } finally {
      c.close();
    }
    await this.sidecar.stillServes();
  }

  /** The proxy answers stream `streamId` with `status` (after `frames`), and the connection goes on. */
  async answers(streamId: number, status: number, ...frames: Buffer[]): Promise<void> {
    const c = await this.open(...frames);
    try {
      const outcome = await c.stream(streamId);
      assert.equal(outcome.status, status, `response; frames: ${c.describe()}`);
      await c.roundTrip();
    } finally {
      c.close();
    }
  }

  /** The frames are accepted without any error: a PING after them is answered and nothing was reset. */
  async accepted(...frames: Buffer[]): Promise<void> {
    const c = await this.open(...frames);
    try {
      await c.roundTrip();
      const errors = c.frames.filter((f) => f.type === T.GOAWAY || f.type === T.RST_STREAM);
      assert.deepEqual(errors, [], c.describe());
    } finally {
      c.close();
    }
  }
}
