// Configuration text for every process of the benchmark, exactly as PERFORMANCE.md gives it: the upstream nginx,
// one nginx / HAProxy / Trellis per hop. Pure functions of ports and paths, so a chain is easy to read off.

/** The upstream's response body: 1 KiB, as in PERFORMANCE.md. */
export const BODY_BYTES = 1024;

/** The directories one nginx instance writes to; all inside the run's temporary directory. */
export interface NginxPaths {
  prefix: string;
}

/** The main-context and http-context lines every nginx here shares: one worker, own pid, logs and temp paths. */
function nginxFrame(paths: NginxPaths, server: string[]): string {
  const p = paths.prefix;
  return [
    "worker_processes 1;",
    `pid ${p}/nginx.pid;`,
    `error_log ${p}/error.log warn;`,
    "events { worker_connections 8192; }",
    "http {",
    "  access_log off;",
    "  keepalive_requests 10000000;",
    "  keepalive_timeout 120s;",
    `  client_body_temp_path ${p}/tmp/client_body;`,
    `  proxy_temp_path ${p}/tmp/proxy;`,
    `  fastcgi_temp_path ${p}/tmp/fastcgi;`,
    `  uwsgi_temp_path ${p}/tmp/uwsgi;`,
    `  scgi_temp_path ${p}/tmp/scgi;`,
    ...server.map((line) => `  ${line}`),
    "}",
    "",
  ].join("\n");
}

/**
 * The upstream: `return 200` with a 1 KiB body on an HTTP/1.1 port, and the same on a plaintext HTTP/2 port
 * (`listen … http2` without TLS is h2c with prior knowledge in nginx 1.22). keepalive_requests also bounds
 * requests per HTTP/2 connection since nginx 1.19.7, so h2 connections are not recycled mid-run.
 */
export function upstreamNginxConf(paths: NginxPaths, http1Port: number, h2cPort: number): string {
  const body = "x".repeat(BODY_BYTES);
  const location = [`  location / { return 200 "${body}"; }`];
  return nginxFrame(paths, [
    "default_type text/plain;",
    "server {",
    `  listen 127.0.0.1:${http1Port};`,
    ...location,
    "}",
    "server {",
    `  listen 127.0.0.1:${h2cPort} http2;`,
    ...location,
    "}",
  ]);
}

/**
 * One nginx hop: HTTP/1.1 with a keep-alive pool to the next hop. With `h2c` the listener takes HTTP/2 with prior
 * knowledge downstream; nginx proxies only HTTP/1.1 upstream, so the hops behind it stay HTTP/1.1 (the
 * "h2c into an nginx pair" row of PERFORMANCE.md).
 */
export function nginxHopConf(paths: NginxPaths, listenPort: number, nextPort: number, h2c = false): string {
  return nginxFrame(paths, [
    `upstream next { server 127.0.0.1:${nextPort}; keepalive 128; keepalive_requests 10000000; }`,
    "server {",
    `  listen 127.0.0.1:${listenPort}${h2c ? " http2" : ""};`,
    '  location / { proxy_pass http://next; proxy_http_version 1.1; proxy_set_header Connection ""; }',
    "}",
  ]);
}

/** One HAProxy hop: one thread, keep-alive both sides, connections reused across clients. */
export function haproxyHopConf(listenPort: number, nextPort: number): string {
  return [
    "global",
    "  nbthread 1",
    "  maxconn 8000",
    "defaults",
    "  mode http",
    "  option http-keep-alive",
    "  http-reuse always",
    "  timeout connect 5s",
    "  timeout client 120s",
    "  timeout server 120s",
    "  timeout http-keep-alive 120s",
    "frontend in",
    `  bind 127.0.0.1:${listenPort}`,
    "  default_backend next",
    "backend next",
    `  server next 127.0.0.1:${nextPort} maxconn 1000`,
    "",
  ].join("\n");
}

export interface TrellisHop {
  /** node.id: bench-client or bench-server. */
  nodeId: string;
  adminPort: number;
  listenPort: number;
  nextPort: number;
  /** The cluster speaks HTTP/2 (h2c, prior knowledge) to the next hop. */
  upstreamHttp2: boolean;
  /**
   * Issue 3's "realistic policy": 20 routes (the benchmark's requests match the last), retries, timeouts, outlier
   * detection, circuit breakers and a local rate limit that is never hit.
   */
  policy?: boolean;
}

/** 19 routes the benchmark's requests do not match (prefixes and a header match), then the catch-all. */
function policyRoutes(): string[] {
  const lines: string[] = ["              routes:"];
  const retry =
    'retry_policy: { retry_on: "5xx,connect-failure,refused-stream", num_retries: 2, per_try_timeout: 5s, ' +
    "retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts }], host_selection_retry_max_attempts: 3 }";
  for (let i = 0; i < 19; i++) {
    const match =
      i % 4 === 3
        ? `{ prefix: "/", headers: [{ name: x-canary-${i}, string_match: { exact: "true" } }] }`
        : `{ prefix: "/api/v${i}/" }`;
    lines.push(`              - { name: r${i}, match: ${match}, route: { cluster: next, timeout: 10s, ${retry} } }`);
  }
  lines.push(
    `              - { name: main, match: { prefix: "/" }, route: { cluster: next, timeout: 10s, ${retry} } }`,
  );
  return lines;
}

/** The local rate limit of the policy row: enabled and enforced, with a bucket the benchmark never empties. */
const POLICY_FILTERS = [
  "          http_filters:",
  "          - name: envoy.filters.http.local_ratelimit",
  "            typed_config:",
  '              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  "              stat_prefix: http_local_rate_limiter",
  "              token_bucket: { max_tokens: 1000000000, tokens_per_fill: 1000000000, fill_interval: 1s }",
  "              filter_enabled: { default_value: { numerator: 100, denominator: HUNDRED } }",
  "              filter_enforced: { default_value: { numerator: 100, denominator: HUNDRED } }",
];

const POLICY_CLUSTER = [
  "    outlier_detection: { consecutive_5xx: 5, interval: 10s, base_ejection_time: 30s, max_ejection_percent: 50 }",
  "    circuit_breakers:",
  "      thresholds: [{ max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 }]",
];

/**
 * An Envoy-v3-style static bootstrap for one Trellis hop. The listener's codec is AUTO, so it takes HTTP/1.1 and
 * h2c prior knowledge alike; only the cluster's protocol differs between the h2c rows.
 */
export function trellisBootstrap(hop: TrellisHop): string {
  const protocolOptions = hop.upstreamHttp2
    ? [
        "    typed_extension_protocol_options:",
        "      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:",
        '        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        "        explicit_http_config: { http2_protocol_options: {} }",
      ]
    : [];
  return [
    `node: { id: ${hop.nodeId}, cluster: bench }`,
    `admin: { address: { socket_address: { address: 127.0.0.1, port_value: ${hop.adminPort} } } }`,
    "static_resources:",
    "  listeners:",
    "  - name: http",
    `    address: { socket_address: { address: 127.0.0.1, port_value: ${hop.listenPort} } }`,
    "    filter_chains:",
    "    - filters:",
    "      - name: envoy.filters.network.http_connection_manager",
    "        typed_config:",
    '          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    "          stat_prefix: ingress",
    "          codec_type: AUTO",
    ...(hop.policy ? POLICY_FILTERS : []),
    "          route_config:",
    "            name: local",
    "            virtual_hosts:",
    "            - name: all",
    '              domains: ["*"]',
    ...(hop.policy ? policyRoutes() : ['              routes: [{ match: { prefix: "/" }, route: { cluster: next } }]']),
    "  clusters:",
    "  - name: next",
    "    type: STATIC",
    "    connect_timeout: 1s",
    ...protocolOptions,
    ...(hop.policy ? POLICY_CLUSTER : []),
    "    load_assignment:",
    "      cluster_name: next",
    `      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${hop.nextPort} } } } }] }]`,
    "",
  ].join("\n");
}
