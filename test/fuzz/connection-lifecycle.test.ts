// Fuzzing how connections end: seeded random clients against a tcp_proxy listener, one behind tls_inspector, and
// HTTP listeners with codec AUTO, plain and behind tls_inspector. Each client sends nothing, a request, part of
// one, garbage, a large write or a TLS-looking prefix, in one or several writes, then leaves by FIN or RST, at once
// or after the first answer. Whatever they do, once every client is gone nothing may be left open: no downstream
// connection on any listener, none in the listener filters, no tcp_proxy upstream connection, no HTTP request still
// counted active (every exchange completed), no unhandled error counted. FUZZ_SEED replays; FUZZ_SCALE runs longer;
// FUZZ_LIFECYCLE_HTTP=0 leaves the HTTP listeners out.
// The HTTP listeners found two bugs (FUZZ_SEED=1): an upstream HTTP/1.1 connection released to the pool while still
// paused by the back-pressure of a client that had gone (the next request on it was sent and its answer never
// read), and exchanges abandoned mid-request that never completed (downstream_rq_active stayed above 0).

import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { ManualClock } from "../../src/api/clock.ts";
import { mulberry32 } from "../../src/api/random.ts";
import { allDomains, bootstrap, httpListener, staticCluster, tcpListener } from "../support/envoy-config.ts";
import { startProxy } from "../support/proxies.ts";
import { startEchoServer, startTcpEcho } from "../support/upstreams.ts";
import { runBounded, waitFor } from "../support/wait.ts";
import { FUZZ_SCALE } from "./scale.ts";

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : 0x11fe_c7c1;
const CLIENTS = 150 * FUZZ_SCALE;
const WITH_HTTP = process.env.FUZZ_LIFECYCLE_HTTP !== "0";

const PAYLOADS: readonly ((rand: () => number) => Buffer)[] = [
  () => Buffer.alloc(0),
  () => Buffer.from("GET / HTTP/1.1\r\nhost: a\r\n\r\n", "latin1"),
  () => Buffer.from("POST /p HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\nabc", "latin1"),
  () => Buffer.from("GET / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab", "latin1"),
  () => Buffer.from("GET / HTTP/1.1\r\nhos", "latin1"),
  () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01]),
  (rand) => Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))),
  (rand) => Buffer.alloc(1 + Math.floor(rand() * 200_000), 0x61),
];

/** One client; rejects (describing itself) if its connection is not closed within 10 s of leaving. */
/** What a listener answers for sure: "echo" any bytes (tcp_proxy to the echo server), "http" a whole GET,
 *  "none" nothing to count on (behind tls_inspector, a TLS-looking prefix waits for the rest of the hello). */
type Answers = "echo" | "http" | "none";

function client(name: string, port: number, answers: Answers, rand: () => number): Promise<void> {
  const kind = Math.floor(rand() * PAYLOADS.length);
  const payload = PAYLOADS[kind]!(rand);
  const pieces = 1 + Math.floor(rand() * 3);
  const reset = rand() < 0.3;
  // Waiting for an answer only where one must come.
  const answered = answers === "echo" ? payload.length > 0 : answers === "http" && kind === 1;
  const readFirst = rand() < 0.5 && answered;
  const halfOpen = rand() < 0.5;
  const what = `${name}: payload ${kind} (${payload.length} bytes) in ${pieces}, ${reset ? "RST" : "FIN"}${readFirst ? " after the first answer" : ""}${halfOpen ? ", half-open client" : ""}`;
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: halfOpen });
    let timer: NodeJS.Timeout | undefined;
    let got = 0;
    let head = "";
    s.on("data", (c: Buffer) => {
      if (got === 0) head = c.toString("latin1", 0, Math.min(c.length, 40));
      got += c.length;
    });
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
    s.once("connect", () => {
      let at = 0;
      for (let i = 1; i <= pieces; i++) {
        const end = i === pieces ? payload.length : Math.floor((payload.length * i) / pieces);
        if (end > at) s.write(payload.subarray(at, end));
        at = end;
      }
      let left = false;
      const leave = (): void => {
        if (left) return;
        left = true;
        timer = setTimeout(
          () =>
            reject(new Error(`still open 10 s after leaving: ${what}; received ${got} bytes: ${JSON.stringify(head)}`)),
          10_000,
        );
        if (reset) s.resetAndDestroy();
        else s.end();
      };
      // Leave at once, or after the first answer (or the proxy's own close) shows up.
      if (readFirst) {
        s.once("data", leave);
        s.once("end", leave);
      } else leave();
    });
  });
}

test(`${CLIENTS} clients leaving at random moments leave nothing open (seed ${SEED})`, async (t) => {
  t.diagnostic(`seed ${SEED} (replay with FUZZ_SEED=${SEED}), scale ${FUZZ_SCALE}`);
  const tcpEcho = await startTcpEcho();
  const httpEcho = await startEchoServer();
  const routes = allDomains([{ match: { prefix: "/" }, route: { cluster: "http" } }]);
  const inspected = (listener: Record<string, unknown>): Record<string, unknown> => ({
    ...listener,
    listener_filters: [
      {
        name: "envoy.filters.listener.tls_inspector",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
        },
      },
    ],
  });
  const listeners = [
    tcpListener("tcp", { cluster: "tcp" }),
    inspected(tcpListener("tcp-inspected", { cluster: "tcp" })),
  ];
  if (WITH_HTTP) listeners.push(httpListener("auto", routes), inspected(httpListener("inspected", routes)));
  const proxy = await startProxy(
    bootstrap(listeners, [staticCluster("tcp", [tcpEcho.port]), staticCluster("http", [httpEcho.port])]),
    new ManualClock(),
  );
  const gauge = (name: string): number =>
    proxy.proxy.stats
      .toJSON()
      .filter((m) => m.name === name)
      .reduce((n, m) => n + m.value, 0);
  try {
    const rand = mulberry32(SEED);
    const names = WITH_HTTP ? ["tcp", "tcp-inspected", "auto", "inspected"] : ["tcp", "tcp-inspected"];
    const ports = names.map((n) => proxy.port(n));
    // Decisions are drawn up front so the seed alone decides every client, whatever order they finish in.
    const plans = Array.from({ length: CLIENTS }, (_, i) => {
      const which = Math.floor(rand() * ports.length);
      const r = mulberry32(Math.floor(rand() * 2 ** 32));
      const answers: Answers = which === 0 ? "echo" : which === 1 ? "none" : "http";
      return () => client(`client ${i} on ${names[which]} (seed ${SEED})`, ports[which]!, answers, r);
    });
    await runBounded(CLIENTS, 16, (i) => plans[i]!());
    // tcp_proxy's upstream connections end with their sessions (the HTTP cluster's pool may keep idle ones).
    const tcpUpstream = (): number => proxy.proxy.cluster("tcp")!.stats.upstreamCxActive.value;
    await waitFor(
      () =>
        gauge("envoy_listener_downstream_cx_active") === 0 &&
        tcpUpstream() === 0 &&
        gauge("envoy_listener_downstream_pre_cx_active") === 0 &&
        gauge("envoy_http_downstream_rq_active") === 0,
      20_000,
    ).catch(() => {
      assert.fail(
        `seed ${SEED}: left open: downstream ${gauge("envoy_listener_downstream_cx_active")}, ` +
          `tcp upstream ${tcpUpstream()}, inspecting ${gauge("envoy_listener_downstream_pre_cx_active")}, ` +
          `HTTP requests active ${gauge("envoy_http_downstream_rq_active")}`,
      );
    });
    assert.equal(gauge("envoy_server_unhandled_errors"), 0);
  } finally {
    await proxy.close();
    await tcpEcho.close();
    await httpEcho.close();
  }
});
