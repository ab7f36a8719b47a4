// Test support for the circuit breakers: a real UpstreamCluster with the given thresholds over endpoints on
// 127.0.0.1, and an HTTP/1.1 upstream that holds every response until the test releases it.

import http from "node:http";
import type net from "node:net";
import type { Clock } from "../../api/clock.ts";
import type { CircuitBreakers, CircuitBreakerThresholds } from "../../api/xds/types.ts";
import { defaultCircuitBreakers } from "../../api/xds/parse/circuit-breakers.ts";
import { createClusterStats } from "../../telemetry/envoy-stats.ts";
import { StatsStore } from "../../telemetry/stats.ts";
import { Headers } from "../http/headers.ts";
import type { BodySink, RequestBody } from "../http/exchange.ts";
import { UpstreamCluster } from "./cluster.ts";
import { Endpoint } from "./endpoint.ts";
import { ClusterMembership } from "./membership.ts";
import { testCluster } from "./lb/test-fixtures.ts";
import type { ConnectFailure, UpstreamHandler, UpstreamRequest, UpstreamStream } from "./pool.ts";

export function breakers(
  thresholds: Partial<CircuitBreakerThresholds>,
  perHost?: number,
  http2 = false,
): { circuitBreakers: CircuitBreakers; http2: boolean } {
  const cb = defaultCircuitBreakers();
  return {
    http2,
    circuitBreakers: {
      ...cb,
      default: { ...cb.default, ...thresholds },
      perHostMaxConnections: { default: perHost, high: undefined },
    },
  };
}

export function testUpstreamCluster(
  ports: number[],
  overrides: ReturnType<typeof breakers>,
  clock: Clock,
): { cluster: UpstreamCluster; endpoints: Endpoint[]; store: StatsStore } {
  const config = testCluster("ROUND_ROBIN", { connectTimeoutMs: 5_000, ...overrides });
  const endpoints = ports.map((p) => new Endpoint("127.0.0.1", p, 1, "HEALTHY"));
  const store = new StatsStore();
  const membership = new ClusterMembership(config, endpoints, () => 0.5);
  const cluster = new UpstreamCluster(config, membership, createClusterStats(store, config.name), {
    clock,
    random: () => 0.5,
    store,
    log: () => {},
  });
  return { cluster, endpoints, store };
}

/** The value of a cluster stat by its Envoy name without the envoy_cluster_ prefix, e.g. "upstream_cx_overflow". */
export function stat(store: StatsStore, name: string): number {
  const found = store.toJSON().find((s) => s.name === `envoy_cluster_${name}`);
  if (found === undefined) throw new Error(`no stat ${name}`);
  return found.value;
}

const emptyBody: RequestBody = {
  empty: true,
  length: 0,
  start: (sink: BodySink) => sink.onEnd(undefined),
  pause: () => {},
  resume: () => {},
};

export function get(path: string, upgrade?: string): UpstreamRequest {
  return { method: "GET", path, authority: "a", scheme: "http", headers: new Headers(), body: emptyBody, upgrade };
}

export interface Outcome {
  status?: number;
  body?: string;
  failure?: ConnectFailure;
  error?: Error;
  reset?: Error;
}

/** Sends `req` through `pool`; the promise settles with what the handler heard. */
export function send(
  pool: { request(r: UpstreamRequest, h: UpstreamHandler): UpstreamStream },
  req: UpstreamRequest,
): { stream: UpstreamStream; outcome: Promise<Outcome> } {
  let stream!: UpstreamStream;
  const outcome = new Promise<Outcome>((resolve) => {
    const chunks: Buffer[] = [];
    let status = 0;
    const handler: UpstreamHandler = {
      onConnectFailure: (failure, error) => resolve({ failure, error }),
      onHead: (s) => void (status = s),
      onData: (c) => (chunks.push(c), true),
      onEnd: () => resolve({ status, body: Buffer.concat(chunks).toString() }),
      onReset: (reset) => resolve({ reset }),
    };
    stream = pool.request(req, handler);
  });
  return { stream, outcome };
}

export interface Held {
  path: string;
  /** The client port of the connection the request came on. */
  remotePort: number;
  release(): void;
}

export interface HoldingUpstream {
  port: number;
  /** Requests received and not yet answered, in arrival order. */
  held: Held[];
  /** Every path received, in order. */
  seen: string[];
  /** Resolves once at least n requests are held. */
  holding(n: number): Promise<void>;
  /** Resolves once a request for `path` has arrived; gives its held entry. */
  arrived(path: string): Promise<Held>;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** An HTTP/1.1 upstream that answers each request (200, its path) only when the test calls release(). */
export async function startHoldingUpstream(): Promise<HoldingUpstream> {
  const waiters: { ready: () => boolean; resolve: () => void }[] = [];
  const until = (ready: () => boolean): Promise<void> =>
    ready() ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ ready, resolve }));
  const sockets = new Set<net.Socket>();
  const up: HoldingUpstream = {
    port: 0,
    held: [],
    seen: [],
    connections: 0,
    holding: (n) => until(() => up.held.length >= n),
    arrived: async (path) => {
      await until(() => up.seen.includes(path));
      return up.held.find((h) => h.path === path)!;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const path = req.url!;
    up.seen.push(path);
    const entry: Held = {
      path,
      remotePort: req.socket.remotePort!,
      release: () => {
        up.held.splice(up.held.indexOf(entry), 1);
        res.end(path);
      },
    };
    up.held.push(entry);
    for (const w of waiters.splice(0)) {
      if (w.ready()) w.resolve();
      else waiters.push(w);
    }
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (s: net.Socket) => {
    up.connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  up.port = (server.address() as net.AddressInfo).port;
  return up;
}
