// Fault injection (envoy.filters.http.fault) end to end, on real sockets, for HTTP/1.1 and HTTP/2 downstreams and
// for gRPC: aborts with their status, flag and details; honest percentages; delays on an injected clock that hold
// the request until the clock moves (and log DI); header-controlled faults; max_active_faults; per-route settings;
// and the stats under Envoy's names.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ManualClock } from "../src/api/clock.ts";
import { mulberry32 } from "../src/api/random.ts";
import { renderEnvoyStatsText } from "../src/telemetry/envoy-stats-text.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { h2request, request } from "./support/clients.ts";
import {
  HTTP2_UPSTREAM,
  allDomains,
  bootstrap,
  httpListener,
  staticCluster,
  type Raw,
} from "./support/envoy-config.ts";
import { binomialBounds } from "./support/binomial.ts";
import { waitFor } from "./support/wait.ts";

const FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
const FILTER_CONFIG_TYPE = "type.googleapis.com/envoy.config.route.v3.FilterConfig";

const fault = (config: Raw): Raw => ({ "@type": FAULT_TYPE, ...config });
const percent = (numerator: number): Raw => ({ numerator, denominator: "HUNDRED" });

/** A proxy with one fault filter (listener-level `config`) in front of `routes` to the cluster "app". */
function faultProxyConfig(upstreamPort: number, config: Raw, routes?: Raw[], hcmExtra: Raw = {}): Raw {
  return bootstrap(
    [
      httpListener(
        "in",
        allDomains(routes ?? [{ name: "app-route", match: { prefix: "/" }, route: { cluster: "app" } }]),
        { http_filters: [{ name: "envoy.filters.http.fault", typed_config: fault(config) }], ...hcmExtra },
      ),
    ],
    [staticCluster("app", [upstreamPort])],
  );
}

/** A few event-loop turns: enough for bytes already sent on 127.0.0.1 to be read and handled. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** A stat's value from the proxy's store (0 when it does not exist). */
function stat(p: RunningProxy, name: string, labels: Record<string, string> = {}): number {
  const want = { envoy_http_conn_manager_prefix: "in", ...labels };
  const found = p.proxy.stats
    .toJSON()
    .find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(sortKeys(want)));
  return found?.value ?? 0;
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  // StatsStore keeps the caller's label order: the fault stats put the prefix first, then the cluster.
  const out: Record<string, string> = {};
  if (o.envoy_http_conn_manager_prefix !== undefined)
    out.envoy_http_conn_manager_prefix = o.envoy_http_conn_manager_prefix;
  for (const k of Object.keys(o)) if (k !== "envoy_http_conn_manager_prefix") out[k] = o[k]!;
  return out;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over HTTP/1.1 or HTTP/2, same shape either way. */
interface Client {
  send(path: string, headers?: Record<string, string>): Promise<Answer>;
  close(): void;
}

function client(protocol: "HTTP/1.1" | "HTTP/2", port: number): Client {
  if (protocol === "HTTP/1.1") {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    return {
      send: (path, headers) => request(port, { path, headers, agent }),
      close: () => agent.destroy(),
    };
  }
  const session = http2.connect(`http://127.0.0.1:${port}`);
  return {
    send: (path, headers) =>
      h2request(session, { ":method": "GET", ":path": path, ":authority": "app", ...headers }).then((r) => ({
        status: r.status,
        headers: r.headers,
        body: r.body,
      })),
    close: () => session.close(),
  };
}

for (const protocol of ["HTTP/1.1", "HTTP/2"] as const)
  describe(`fault injection (${protocol} downstream)`, () => {
    let up: Upstream;
    before(async () => {
      up = await startEchoServer("app");
    });
    after(async () => {
      await up.close();
    });

    test("abort 100 %: the status, flag FI and details naming the route; nothing reaches the upstream", async () => {
      const proxy = await startProxy(
        faultProxyConfig(up.port, { abort: { http_status: 503, percentage: percent(100) } }),
      );
      const c = client(protocol, proxy.port());
      try {
        const before = up.received.length;
        const r = await c.send("/x", { "x-envoy-downstream-service-cluster": "productpage" });
        assert.equal(r.status, 503);
        assert.equal(r.headers["x-trellis-response-flags"], "FI");
        assert.equal(r.headers["x-trellis-details"], "fault_filter_abort:app-route");
        assert.equal(r.body, "fault filter abort"); // Envoy's body; the details are in the header
        assert.equal(up.received.length, before);
        assert.equal(stat(proxy, "envoy_http_fault_aborts_injected"), 1);
        assert.equal(
          stat(proxy, "envoy_http_fault_aborts_injected", { envoy_fault_downstream_cluster: "productpage" }),
          1,
        );
        assert.equal(stat(proxy, "envoy_http_fault_delays_injected"), 0);
        assert.equal(stat(proxy, "envoy_http_fault_active_faults"), 0);
        // Envoy's dotted names on the admin /stats view.
        const text = renderEnvoyStatsText(proxy.proxy.stats, {});
        assert.match(text, /^http\.in\.fault\.aborts_injected: 1$/m);
        assert.match(text, /^http\.in\.fault\.productpage\.aborts_injected: 1$/m);
      } finally {
        c.close();
        await proxy.close();
      }
    });

    test("abort 30 % over 1000 requests falls inside the 99.9 % binomial bounds, and the stat agrees", async () => {
      const proxy = await startProxy(
        faultProxyConfig(up.port, {
          abort: { http_status: 500, percentage: { numerator: 3000, denominator: "TEN_THOUSAND" } },
        }),
        undefined,
        mulberry32(protocol === "HTTP/1.1" ? 7 : 11),
      );
      const c = client(protocol, proxy.port());
      try {
        const n = 1000;
        let aborted = 0;
        for (let i = 0; i < n; i += 10) {
          const batch = await Promise.all(Array.from({ length: 10 }, () => c.send("/p")));
          for (const r of batch) {
            if (r.status === 500) {
              assert.equal(r.headers["x-trellis-response-flags"], "FI");
              aborted++;
            } else assert.equal(r.status, 200);
          }
        }
        const [lo, hi] = binomialBounds(n, 0.3);
        assert.ok(
          aborted >= lo && aborted <= hi,
          `${aborted} of ${n} aborted; expected [${lo.toFixed(0)}, ${hi.toFixed(0)}]`,
        );
        assert.equal(stat(proxy, "envoy_http_fault_aborts_injected"), aborted);
      } finally {
        c.close();
        await proxy.close();
      }
    });

    test("delay: held until the clock moves, then answered normally; DI in the access log", async () => {
      const dir = mkdtempSync(join(tmpdir(), "trellis-fault-"));
      const path = join(dir, "access.log");
      const clock = new ManualClock();
      const proxy = await startProxy(
        faultProxyConfig(up.port, { delay: { fixed_delay: "2s", percentage: percent(100) } }, undefined, {
          access_log: [
            {
              name: "envoy.access_loggers.file",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                path,
                log_format: {
                  text_format_source: { inline_string: "%RESPONSE_CODE% %RESPONSE_FLAGS% %ROUTE_NAME% %REQ(:PATH)%\n" },
                },
              },
            },
          ],
        }),
        clock,
      );
      const c = client(protocol, proxy.port());
      try {
        const before = up.received.length;
        const answer = c.send("/slow");
        await waitFor(() => stat(proxy, "envoy_http_fault_delays_injected") === 1);
        assert.equal(stat(proxy, "envoy_http_fault_active_faults"), 1);
        clock.advance(1999);
        await settle();
        assert.equal(up.received.length, before, "forwarded before the delay was over");
        clock.advance(1);
        const r = await answer;
        assert.equal(r.status, 200);
        assert.equal(r.headers["x-envoy-upstream-service-time"], "0", "the upstream time excludes the delay");
        assert.equal(up.received.length, before + 1);
        assert.equal(stat(proxy, "envoy_http_fault_active_faults"), 0);
        await proxy.close();
        const lines = readFileSync(path, "utf8").trim().split("\n");
        assert.deepEqual(lines, ["200 DI app-route /slow"]);
      } finally {
        c.close();
        await proxy.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("a request body waits, paused, with the delayed request and arrives whole", async () => {
      const clock = new ManualClock();
      const proxy = await startProxy(
        faultProxyConfig(up.port, { delay: { fixed_delay: "1s", percentage: percent(100) } }),
        clock,
      );
      const body = "x".repeat(200_000);
      try {
        let answer: Promise<Answer>;
        let session: http2.ClientHttp2Session | undefined;
        if (protocol === "HTTP/1.1") answer = request(proxy.port(), { method: "POST", path: "/upload", body });
        else {
          session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
          answer = h2request(session, { ":method": "POST", ":path": "/upload", ":authority": "app" }, body);
        }
        await waitFor(() => stat(proxy, "envoy_http_fault_delays_injected") === 1);
        clock.advance(1000);
        const r = await answer;
        session?.close();
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body).body.length, body.length);
      } finally {
        await proxy.close();
      }
    });

    test("a downstream that goes away during the delay: timer cancelled, nothing forwarded", async () => {
      const clock = new ManualClock();
      const proxy = await startProxy(
        faultProxyConfig(up.port, { delay: { fixed_delay: "5s", percentage: percent(100) } }),
        clock,
      );
      try {
        const before = up.received.length;
        let gone: () => void;
        if (protocol === "HTTP/1.1") {
          const socket = net.connect(proxy.port(), "127.0.0.1");
          socket.write("GET /gone HTTP/1.1\r\nHost: app\r\n\r\n");
          // A reset, not a FIN: after a FIN the codec still answers a complete request (half-close).
          gone = () => socket.resetAndDestroy();
        } else {
          const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
          const stream = session.request({ ":path": "/gone", ":authority": "app" });
          stream.on("error", () => {});
          gone = () => {
            stream.close(http2.constants.NGHTTP2_CANCEL);
            session.close();
          };
        }
        await waitFor(() => stat(proxy, "envoy_http_fault_active_faults") === 1);
        gone();
        await waitFor(() => stat(proxy, "envoy_http_fault_active_faults") === 0);
        clock.advance(5000);
        await settle();
        assert.equal(up.received.length, before);
      } finally {
        await proxy.close();
      }
    });

    test("header-controlled faults: the headers choose status and delay; the percentage header caps them", async () => {
      const clock = new ManualClock();
      const proxy = await startProxy(
        faultProxyConfig(up.port, {
          abort: { header_abort: {}, percentage: percent(100) },
          delay: { header_delay: {}, percentage: percent(100) },
        }),
        clock,
      );
      const c = client(protocol, proxy.port());
      try {
        assert.equal((await c.send("/h")).status, 200, "no header, no fault");
        const teapot = await c.send("/h", { "x-envoy-fault-abort-request": "418" });
        assert.equal(teapot.status, 418);
        assert.equal(teapot.headers["x-trellis-response-flags"], "FI");
        assert.equal((await c.send("/h", { "x-envoy-fault-abort-request": "700" })).status, 200, "out of range");
        const none = await c.send("/h", {
          "x-envoy-fault-abort-request": "503",
          "x-envoy-fault-abort-request-percentage": "0",
        });
        assert.equal(none.status, 200);
        // A header delay, then the abort decided after it: both flags.
        const both = c.send("/h", { "x-envoy-fault-delay-request": "300", "x-envoy-fault-abort-request": "429" });
        await waitFor(() => stat(proxy, "envoy_http_fault_delays_injected") === 1);
        clock.advance(300);
        const r = await both;
        assert.equal(r.status, 429);
        assert.equal(r.headers["x-trellis-response-flags"], "DI,FI");
        assert.equal(stat(proxy, "envoy_http_fault_aborts_injected"), 2);
        assert.equal(stat(proxy, "envoy_http_fault_active_faults"), 0);
      } finally {
        c.close();
        await proxy.close();
      }
    });

    test("max_active_faults: past the limit a request is not faulted and counts as an overflow", async () => {
      const clock = new ManualClock();
      const proxy = await startProxy(
        faultProxyConfig(up.port, {
          delay: { fixed_delay: "10s", percentage: percent(100) },
          max_active_faults: 1,
        }),
        clock,
      );
      const c = client(protocol, proxy.port());
      try {
        const held = c.send("/first");
        await waitFor(() => stat(proxy, "envoy_http_fault_active_faults") === 1);
        const free = await c.send("/second");
        assert.equal(free.status, 200, "answered without waiting for the clock");
        assert.equal(stat(proxy, "envoy_http_fault_faults_overflow"), 1);
        assert.equal(stat(proxy, "envoy_http_fault_delays_injected"), 1);
        clock.advance(10_000);
        assert.equal((await held).status, 200);
        assert.equal(stat(proxy, "envoy_http_fault_active_faults"), 0);
      } finally {
        c.close();
        await proxy.close();
      }
    });

    test("per-route settings replace the listener's; FilterConfig.disabled turns the filter off", async () => {
      const routes: Raw[] = [
        {
          name: "teapot",
          match: { prefix: "/teapot" },
          route: { cluster: "app" },
          typed_per_filter_config: {
            "envoy.filters.http.fault": fault({ abort: { http_status: 418, percentage: percent(100) } }),
          },
        },
        {
          name: "off",
          match: { prefix: "/off" },
          route: { cluster: "app" },
          typed_per_filter_config: { "envoy.filters.http.fault": { "@type": FILTER_CONFIG_TYPE, disabled: true } },
        },
        { name: "default", match: { prefix: "/" }, route: { cluster: "app" } },
      ];
      const proxy = await startProxy(
        faultProxyConfig(up.port, { abort: { http_status: 503, percentage: percent(100) } }, routes),
      );
      const c = client(protocol, proxy.port());
      try {
        const t = await c.send("/teapot");
        assert.equal(t.status, 418);
        assert.equal(t.headers["x-trellis-details"], "fault_filter_abort:teapot");
        assert.equal((await c.send("/off")).status, 200);
        const d = await c.send("/other");
        assert.equal(d.status, 503);
        assert.equal(d.headers["x-trellis-details"], "fault_filter_abort:default");
      } finally {
        c.close();
        await proxy.close();
      }
    });

    test("headers, downstream_nodes and upstream_cluster restrict which requests are faulted", async () => {
      const routes: Raw[] = [
        { name: "to-app", match: { prefix: "/app" }, route: { cluster: "app" } },
        { name: "to-other", match: { prefix: "/other" }, route: { cluster: "other" } },
        {
          name: "split",
          match: { prefix: "/split" },
          route: {
            weighted_clusters: {
              clusters: [
                { name: "app", weight: 1 },
                { name: "other", weight: 1 },
              ],
            },
          },
        },
      ];
      const raw = faultProxyConfig(
        up.port,
        {
          abort: { http_status: 503, percentage: percent(100) },
          upstream_cluster: "app",
          downstream_nodes: ["node-a"],
          headers: [{ name: "x-chaos", exact_match: "on" }],
        },
        routes,
      );
      (raw.static_resources as { clusters: Raw[] }).clusters.push(staticCluster("other", [up.port]));
      const proxy = await startProxy(raw);
      const c = client(protocol, proxy.port());
      try {
        const all = { "x-chaos": "on", "x-envoy-downstream-service-node": "node-a" };
        assert.equal((await c.send("/app", all)).status, 503);
        assert.equal((await c.send("/app", { ...all, "x-chaos": "off" })).status, 200, "header matcher");
        assert.equal((await c.send("/app", { "x-chaos": "on" })).status, 200, "no downstream node");
        assert.equal(
          (await c.send("/app", { ...all, "x-envoy-downstream-service-node": "node-b" })).status,
          200,
          "another downstream node",
        );
        assert.equal((await c.send("/other", all)).status, 200, "another cluster");
        // A weighted route's cluster is picked by the router, after the filter: it cannot count as a match.
        assert.equal((await c.send("/split", all)).status, 200, "weighted clusters");
      } finally {
        c.close();
        await proxy.close();
      }
    });
  });

interface EchoRequest {
  message: string;
}
interface EchoReply {
  message: string;
  index: number;
}

const definition = protoLoader.loadSync(fileURLToPath(new URL("./fixtures/echo.proto", import.meta.url)), {
  keepCase: true,
});
const Echo = (
  grpc.loadPackageDefinition(definition) as unknown as { trellis: { test: { Echo: grpc.ServiceClientConstructor } } }
).trellis.test.Echo;

describe("fault injection for gRPC", () => {
  let server: grpc.Server;
  let proxy: RunningProxy;
  let grpcClient: grpc.Client;
  before(async () => {
    server = new grpc.Server();
    server.addService(Echo.service, {
      Unary(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) {
        cb(null, { message: `echo:${call.request.message}`, index: 0 });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const perRoute = (config: Raw): Raw => ({ "envoy.filters.http.fault": fault(config) });
    proxy = await startProxy(
      bootstrap(
        [
          httpListener(
            "in",
            allDomains([
              {
                name: "exhausted",
                match: { prefix: "/trellis.test.Echo/", headers: [{ name: "x-case", exact_match: "grpc" }] },
                route: { cluster: "grpc" },
                typed_per_filter_config: perRoute({ abort: { grpc_status: 8, percentage: percent(100) } }),
              },
              {
                name: "http-status",
                match: { prefix: "/trellis.test.Echo/", headers: [{ name: "x-case", exact_match: "http" }] },
                route: { cluster: "grpc" },
                typed_per_filter_config: perRoute({ abort: { http_status: 503, percentage: percent(100) } }),
              },
              { name: "grpc", match: { prefix: "/" }, route: { cluster: "grpc" } },
            ]),
            {
              http_filters: [
                {
                  name: "envoy.filters.http.fault",
                  typed_config: fault({ abort: { header_abort: {}, percentage: percent(100) } }),
                },
              ],
            },
          ),
        ],
        [staticCluster("grpc", [port], HTTP2_UPSTREAM)],
      ),
    );
    grpcClient = new Echo(`127.0.0.1:${proxy.port()}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    grpcClient.close();
    await proxy.close();
    server.forceShutdown();
  });

  const call = (md: Record<string, string>): Promise<EchoReply> =>
    new Promise((resolve, reject) => {
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(md)) metadata.set(k, v);
      (
        grpcClient as unknown as {
          Unary(r: EchoRequest, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: EchoReply) => void): void;
        }
      ).Unary({ message: "hi" }, metadata, (err, r) => (err ? reject(err) : resolve(r)));
    });

  const codeOf = async (md: Record<string, string>): Promise<number> => {
    try {
      await call(md);
      return grpc.status.OK;
    } catch (err) {
      return (err as grpc.ServiceError).code;
    }
  };

  test("grpc_status abort: the client sees exactly that status, with the fault's details", async () => {
    try {
      await call({ "x-case": "grpc" });
      assert.fail("expected an error");
    } catch (err) {
      const e = err as grpc.ServiceError;
      assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(e.details, /fault_filter_abort:exhausted/);
      assert.equal(e.metadata.get("x-trellis-response-flags")[0], "FI");
    }
  });

  test("http_status abort on a gRPC request: mapped as gRPC maps HTTP (503 → UNAVAILABLE)", async () => {
    assert.equal(await codeOf({ "x-case": "http" }), grpc.status.UNAVAILABLE);
  });

  test("header abort: x-envoy-fault-abort-grpc-request chooses the gRPC status; none passes through", async () => {
    assert.equal(await codeOf({ "x-envoy-fault-abort-grpc-request": "14" }), grpc.status.UNAVAILABLE);
    assert.equal(await codeOf({ "x-envoy-fault-abort-grpc-request": "7" }), grpc.status.PERMISSION_DENIED);
    assert.deepEqual(await call({}), { message: "echo:hi", index: 0 });
  });
});
