// The HTTP/1.1 downstream under hostile and unlucky input (issue 9): a body that waits for its upstream is not
// buffered without bound; an upgrade request with a body is forwarded, not deadlocked; a head that is still
// arriving is covered by stream_idle_timeout and request_headers_timeout; forbidden trailer fields, Expect and h2c
// upgrade offers are handled as Envoy does; and an edge listener does not trust what an outside client says about
// itself (x-forwarded-*, x-envoy-*, x-request-id). Real sockets, a raw recording upstream, an injected clock.

import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { ManualClock } from "../../src/api/clock.ts";
import { startProxy, type RunningProxy } from "../support/proxies.ts";
import { startRawUpstream, type RawUpstream } from "../support/raw-upstream.ts";
import { rawExchange } from "../support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster, type Raw } from "../support/envoy-config.ts";
import { waitFor } from "../support/wait.ts";

const ROUTES = allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]);

function proxyTo(
  port: number,
  hcmExtra: Raw = {},
  clock?: ManualClock,
  listenerExtra: Raw = {},
  clusterExtra: Raw = {},
) {
  return startProxy(
    bootstrap(
      [{ ...httpListener("http", ROUTES, { generate_request_id: false, ...hcmExtra }), ...listenerExtra }],
      [staticCluster("app", [port], clusterExtra)],
    ),
    clock,
  );
}

/** A raw client socket that collects what it is sent; `closed` resolves when the proxy closes it. */
function rawClient(port: number): { socket: net.Socket; received(): string; closed: Promise<void> } {
  const socket = net.connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => {});
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  return { socket, received: () => Buffer.concat(chunks).toString("latin1"), closed };
}

/** A connection manager stat of the "http" listener (0 when absent). */
function hcmStat(p: RunningProxy, name: string): number {
  const found = p.proxy.stats
    .toJSON()
    .find((x) => x.name === name && x.labels.envoy_http_conn_manager_prefix === "http");
  return found?.value ?? 0;
}

/** The header fields (lower-cased names, in order) of the i-th request the raw upstream received. */
function fields(up: RawUpstream, i: number): Record<string, string> {
  const l = up.requests[i]!.head.headers.list;
  const out: Record<string, string> = {};
  for (let j = 0; j < l.length; j += 2)
    out[l[j]!] = out[l[j]!] === undefined ? l[j + 1]! : `${out[l[j]!]}, ${l[j + 1]!}`;
  return out;
}

describe("finding 5: a request body waiting for its upstream", () => {
  test(
    "is not read beyond per_connection_buffer_limit_bytes while the upstream is held by max_connections; once it frees, the body arrives whole",
    { timeout: 60_000 },
    async () => {
      const TOTAL = 48 << 20;
      const body = Buffer.alloc(TOTAL);
      for (let i = 0; i < TOTAL; i += 4096) body.writeUInt32BE(i, i);
      let release: () => void = () => {};
      const held = new Promise<void>((r) => (release = r));
      let holding = false;
      let bigBytes = 0;
      let bigHash = "";
      const upstream = http.createServer((req, res) => {
        if (req.url === "/hold") {
          holding = true;
          req.resume();
          void held.then(() => res.end("held"));
          return;
        }
        const hash = createHash("sha256");
        req.on("data", (c: Buffer) => {
          bigBytes += c.length;
          hash.update(c);
        });
        req.on("end", () => {
          bigHash = hash.digest("hex");
          res.end("big");
        });
      });
      await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
      const port = (upstream.address() as AddressInfo).port;
      const proxy = await proxyTo(
        port,
        {},
        undefined,
        { per_connection_buffer_limit_bytes: 65536 },
        { circuit_breakers: { thresholds: [{ max_connections: 1, max_pending_requests: 10 }] } },
      );
      try {
        const first = new Promise<string>((resolve, reject) => {
          http
            .get({ host: "127.0.0.1", port: proxy.port(), path: "/hold", agent: false }, (res) => {
              let s = "";
              res.on("data", (c: Buffer) => (s += c.toString()));
              res.on("end", () => resolve(s));
            })
            .on("error", reject);
        });
        await waitFor(() => holding);

        const client = rawClient(proxy.port());
        client.socket.write(`POST /big HTTP/1.1\r\nHost: app\r\nContent-Length: ${TOTAL}\r\n\r\n`);
        for (let i = 0; i < TOTAL; i += 1 << 20) client.socket.write(body.subarray(i, i + (1 << 20)));
        // Bytes the client's kernel took: what the proxy read plus what sits in the two socket buffers. Wait until
        // it stops growing (the proxy has stopped reading), then bound it.
        const accepted = (): number => TOTAL - client.socket.writableLength;
        let last = -1;
        let stable = 0;
        await waitFor(() => {
          const now = accepted();
          stable = now === last ? stable + 1 : 0;
          last = now;
          return stable >= 1000 || now >= TOTAL;
        }, 30_000);
        assert.ok(
          accepted() < 16 << 20,
          `the proxy let ${accepted()} of ${TOTAL} bytes in while the upstream was busy (limit 64 KiB + socket buffers)`,
        );
        assert.equal(bigBytes, 0, "nothing reached the upstream yet");

        release();
        assert.equal(await first, "held");
        await waitFor(() => client.received().includes("big"), 30_000);
        assert.match(client.received(), /^HTTP\/1\.1 200 /);
        assert.equal(bigBytes, TOTAL);
        assert.equal(bigHash, createHash("sha256").update(body).digest("hex"), "the body arrived intact");
        client.socket.destroy();
      } finally {
        release();
        await proxy.close();
        upstream.closeAllConnections();
        await new Promise<void>((r) => upstream.close(() => r()));
      }
    },
  );
});

describe("finding 5: the pause does not outlive its exchange", () => {
  test("a body held past the limit and never read (fault delay, then abort) leaves the keep-alive connection readable", async () => {
    const up = await startRawUpstream();
    const clock = new ManualClock();
    const fault = {
      name: "envoy.filters.http.fault",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
        delay: { fixed_delay: "1s", percentage: { numerator: 100 } },
        abort: { http_status: 503, percentage: { numerator: 100 } },
      },
    };
    const proxy = await proxyTo(up.port, { http_filters: [fault] }, clock, { per_connection_buffer_limit_bytes: 1000 });
    try {
      const client = rawClient(proxy.port());
      // The whole request is read (one read), its 5000-byte body buffered past the 1000-byte limit: the socket pauses.
      client.socket.write(`POST /x HTTP/1.1\r\nHost: app\r\nContent-Length: 5000\r\n\r\n${"b".repeat(5000)}`);
      await waitFor(() => {
        clock.advance(500);
        return /\r\n\r\n/.test(client.received());
      });
      assert.match(client.received(), /^HTTP\/1\.1 503 /);
      assert.doesNotMatch(client.received(), /connection: close/);
      // The next request, sent only now, must be read: the first exchange's pause ended with it.
      client.socket.write("GET /y HTTP/1.1\r\nHost: app\r\n\r\n");
      await waitFor(() => {
        clock.advance(500);
        return (client.received().match(/HTTP\/1\.1 503 /g) ?? []).length === 2;
      }, 5000);
      assert.equal(up.requests.length, 0);
      client.socket.destroy();
    } finally {
      await proxy.close();
      await up.close();
    }
  });
});

describe("finding 7: upgrades with a body, heads that never finish", () => {
  test("an upgrade request with a body is forwarded with it; the tunnel follows", async () => {
    // The upstream answers 101 only once it has the whole body (5 bytes after the head), then echoes.
    const seen: Buffer[] = [];
    const server = net.createServer((s) => {
      s.on("error", () => {});
      let upgraded = false;
      s.on("data", (c: Buffer) => {
        if (upgraded) return void s.write(c);
        seen.push(c);
        const all = Buffer.concat(seen).toString("latin1");
        const end = all.indexOf("\r\n\r\n");
        if (end >= 0 && all.length >= end + 4 + 5) {
          upgraded = true;
          s.write("HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n");
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const proxy = await proxyTo((server.address() as AddressInfo).port, {
      upgrade_configs: [{ upgrade_type: "websocket" }],
    });
    try {
      const client = rawClient(proxy.port());
      client.socket.write(
        "GET /ws HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello",
      );
      await waitFor(() => client.received().includes("\r\n\r\n"), 5000);
      assert.match(client.received(), /^HTTP\/1\.1 101 /);
      assert.equal(
        Buffer.concat(seen).toString("latin1"),
        "GET /ws HTTP/1.1\r\nhost: app\r\nx-forwarded-proto: http\r\ncontent-length: 5\r\n" +
          "connection: upgrade\r\nupgrade: websocket\r\n\r\nhello",
      );
      client.socket.write("ping");
      await waitFor(() => client.received().endsWith("ping"), 5000);
      client.socket.destroy();
    } finally {
      await proxy.close();
      server.close();
    }
  });

  /** Advances the clock step by step until the client has an answer or is closed. */
  async function advanceUntilAnswered(clock: ManualClock, client: ReturnType<typeof rawClient>, stepMs: number) {
    let closed = false;
    void client.closed.then(() => (closed = true));
    await waitFor(() => {
      if (client.received().includes("\r\n\r\n") || closed) return true;
      clock.advance(stepMs);
      return false;
    });
  }

  test("a half-sent head is ended by the default stream_idle_timeout (5 min): 408, SI", async () => {
    const up = await startRawUpstream();
    const clock = new ManualClock();
    const proxy = await proxyTo(up.port, {}, clock);
    try {
      const client = rawClient(proxy.port());
      client.socket.write("GET / HTTP/1.1\r\nHost: app\r\nX-Slow: ");
      await advanceUntilAnswered(clock, client, 30_000);
      const answer = client.received();
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.match(answer, /x-trellis-response-flags: SI\r\n/);
      assert.match(answer, /x-trellis-details: stream_idle_timeout\r\n/);
      assert.ok(clock.now() >= 300_000 && clock.now() < 3_600_000, `answered at ${clock.now()} ms`);
      await client.closed;
      assert.equal(up.requests.length, 0);
      // Counted as Envoy counts it: an idle stream, not a protocol error.
      assert.equal(hcmStat(proxy, "envoy_http_downstream_rq_idle_timeout"), 1);
      assert.equal(hcmStat(proxy, "envoy_http_downstream_cx_protocol_error"), 0);
    } finally {
      await proxy.close();
      await up.close();
    }
  });

  test("request_headers_timeout ends a head that keeps trickling: 408, request_header_timeout", async () => {
    const up = await startRawUpstream();
    const clock = new ManualClock();
    const proxy = await proxyTo(up.port, { request_headers_timeout: "10s" }, clock);
    try {
      const client = rawClient(proxy.port());
      client.socket.write("GET / HTTP/1.1\r\nHost: app\r\n");
      let closed = false;
      void client.closed.then(() => (closed = true));
      // A byte every second keeps the stream from going idle; only the headers timeout can end it.
      await waitFor(() => {
        if (client.received().includes("\r\n\r\n") || closed) return true;
        clock.advance(1000);
        client.socket.write("x");
        return false;
      });
      const answer = client.received();
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.match(answer, /x-trellis-details: request_header_timeout\r\n/);
      assert.ok(clock.now() >= 10_000 && clock.now() < 300_000, `answered at ${clock.now()} ms`);
      assert.equal(up.requests.length, 0);
    } finally {
      await proxy.close();
      await up.close();
    }
  });
});

describe("finding 10: trailers, Expect, h2c offers", () => {
  // A fresh upstream per test, so that its first connection holds exactly what this test sent.
  let up: RawUpstream;
  let proxy: RunningProxy;
  beforeEach(async () => {
    up = await startRawUpstream();
    proxy = await proxyTo(up.port);
  });
  afterEach(async () => {
    await proxy.close();
    await up.close();
  });

  test("request trailers lose the fields RFC 9110 §6.5.1 forbids there; the others are forwarded", async () => {
    const raw = await rawExchange(
      proxy.port(),
      "POST /t HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n" +
        "X-Checksum: 1\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\nHost: evil\r\nConnection: close\r\n" +
        "Authorization: Basic eA==\r\nX-Other: 2\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.equal(
      up.text(),
      "POST /t HTTP/1.1\r\nhost: app\r\nx-forwarded-proto: http\r\ntransfer-encoding: chunked\r\n\r\n" +
        "3\r\nabc\r\n0\r\nx-checksum: 1\r\nx-other: 2\r\n\r\n",
    );
  });

  test("Expect: 100-continue from HTTP/1.0 is ignored: no 100 Continue, not forwarded", async () => {
    const raw = await rawExchange(
      proxy.port(),
      "POST /e HTTP/1.0\r\nHost: app\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert.doesNotMatch(raw, /100 Continue/);
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.equal(up.requests.length, 1);
    assert.equal(fields(up, 0).expect, undefined);
    assert.equal(up.requests[0]!.body.toString(), "hi");
  });

  test("Expect: 100-continue from HTTP/1.1 is answered by the proxy and not forwarded (Envoy without proxy_100_continue)", async () => {
    const client = rawClient(proxy.port());
    client.socket.write("POST /e HTTP/1.1\r\nHost: app\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    await waitFor(() => client.received().includes("100 Continue"), 5000);
    client.socket.write("hi");
    await waitFor(() => /HTTP\/1\.1 200 [^]*ok$/.test(client.received()), 5000);
    assert.equal(fields(up, 0).expect, undefined);
    assert.equal(up.requests[0]!.body.toString(), "hi");
    client.socket.destroy();
  });

  test("an h2c upgrade offer (curl --http2) is served as plain HTTP/1.1, the offer stripped", async () => {
    const raw = await rawExchange(
      proxy.port(),
      "GET /h2c HTTP/1.1\r\nHost: app\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.equal(up.text(), "GET /h2c HTTP/1.1\r\nhost: app\r\nx-forwarded-proto: http\r\n\r\n");
  });
});

describe("finding 10: who is trusted with x-forwarded-*, x-envoy-* and x-request-id", () => {
  const SPOOF =
    "GET /who HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n" +
    "X-Envoy-Max-Retries: 5\r\nX-Envoy-Upstream-Rq-Timeout-Ms: 1\r\nX-Envoy-Internal: true\r\nX-Request-Id: chosen-by-client\r\n\r\n";

  async function through(hcm: Raw, bytes = SPOOF): Promise<Record<string, string>> {
    const up = await startRawUpstream();
    const proxy = await proxyTo(up.port, { generate_request_id: true, ...hcm });
    try {
      const raw = await rawExchange(proxy.port(), bytes);
      assert.match(raw, /^HTTP\/1\.1 200 /);
      return fields(up, 0);
    } finally {
      await proxy.close();
      await up.close();
    }
  }

  test("edge listener (use_remote_address), external client: XFF appended, proto set, x-envoy-* stripped, id replaced", async () => {
    const f = await through({
      use_remote_address: true,
      internal_address_config: { cidr_ranges: [{ address_prefix: "10.0.0.0", prefix_len: 8 }] },
    });
    assert.equal(f["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
    assert.equal(f["x-forwarded-proto"], "http");
    assert.equal(f["x-envoy-max-retries"], undefined);
    assert.equal(f["x-envoy-upstream-rq-timeout-ms"], undefined);
    assert.equal(f["x-envoy-internal"], undefined);
    assert.equal(f["x-envoy-external-address"], "127.0.0.1");
    assert.match(f["x-request-id"]!, /^[0-9a-f-]{36}$/);
  });

  test("edge listener with preserve_external_request_id keeps the client's x-request-id", async () => {
    const f = await through({
      use_remote_address: true,
      preserve_external_request_id: true,
      internal_address_config: { cidr_ranges: [] },
    });
    assert.equal(f["x-request-id"], "chosen-by-client");
    assert.equal(f["x-envoy-max-retries"], undefined);
  });

  test("edge listener, internal client (loopback, Envoy's default internal addresses, no XFF): trusted", async () => {
    const f = await through(
      { use_remote_address: true },
      "GET /who HTTP/1.1\r\nHost: app\r\nX-Envoy-Max-Retries: 5\r\nX-Request-Id: kept\r\nX-Forwarded-Proto: https\r\n\r\n",
    );
    assert.equal(f["x-forwarded-for"], "127.0.0.1");
    assert.equal(f["x-envoy-internal"], "true");
    assert.equal(f["x-envoy-max-retries"], "5");
    assert.equal(f["x-request-id"], "kept");
    // Envoy: with no trusted hops the previous hop's x-forwarded-proto is replaced by the connection's.
    assert.equal(f["x-forwarded-proto"], "http");
  });

  test("sidecar listener (use_remote_address false), external client: XFF not appended, Envoy's controls removed", async () => {
    const f = await through({}, SPOOF.replace("\r\n\r\n", "\r\nX-Envoy-Downstream-Service-Node: node-a\r\n\r\n"));
    assert.equal(f["x-forwarded-for"], "1.2.3.4");
    assert.equal(f["x-forwarded-proto"], "https");
    assert.equal(f["x-request-id"], "chosen-by-client");
    // Not internal (1.2.3.4 is public), not an edge request: the retry and timeout controls and x-envoy-internal go,
    // the downstream-service fields (set by the calling sidecar in a mesh) stay.
    assert.equal(f["x-envoy-max-retries"], undefined);
    assert.equal(f["x-envoy-upstream-rq-timeout-ms"], undefined);
    assert.equal(f["x-envoy-internal"], undefined);
    assert.equal(f["x-envoy-downstream-service-node"], "node-a");
    assert.equal(f["x-envoy-external-address"], undefined);
  });

  test("sidecar listener, a single internal address in x-forwarded-for: internal, trusted", async () => {
    const f = await through(
      {},
      "GET /who HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: 10.1.2.3\r\nX-Envoy-Max-Retries: 5\r\nX-Request-Id: kept\r\n\r\n",
    );
    assert.equal(f["x-forwarded-for"], "10.1.2.3");
    assert.equal(f["x-envoy-internal"], "true");
    assert.equal(f["x-envoy-max-retries"], "5");
    assert.equal(f["x-request-id"], "kept");
  });

  test("xff_num_trusted_hops picks the client from x-forwarded-for on an edge listener", async () => {
    const f = await through(
      { use_remote_address: true, xff_num_trusted_hops: 1, internal_address_config: { cidr_ranges: [] } },
      "GET /who HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: 9.9.9.9, 5.6.7.8\r\nX-Forwarded-Proto: https\r\n\r\n",
    );
    assert.equal(f["x-forwarded-for"], "9.9.9.9, 5.6.7.8, 127.0.0.1");
    assert.equal(f["x-envoy-external-address"], "5.6.7.8");
    // A trusted previous hop (and more than one address) keeps its x-forwarded-proto.
    assert.equal(f["x-forwarded-proto"], "https");
  });
});
