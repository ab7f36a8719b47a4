// A real sidecar listener for HTTP/2 hostile-input tests: the bootstrap goes through the real parser, the listener's
// codec is AUTO (as the control plane configures every sidecar) or HTTP2, and every route goes to an HTTP/1.1 echo
// upstream whose received requests the test can inspect. `stillServes` proves the process kept serving others.

import assert from "node:assert/strict";
import http2 from "node:http2";
import { startProxy, type RunningProxy } from "./proxies.ts";
import { allDomains, bootstrap, httpListener, staticCluster, type Raw } from "./envoy-config.ts";
import { startEchoServer, type Upstream } from "./upstreams.ts";
import { h2request, request } from "./clients.ts";

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
