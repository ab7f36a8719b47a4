// A DestinationRule's trafficPolicy (also a subset's, and each portLevelSettings entry): load balancing,
// connection pool (Envoy's circuit breakers), outlier detection and client TLS.

import type {
  ClientTLSSettings,
  ConnectionPoolSettings,
  ConsistentHashLB,
  LoadBalancerSettings,
  LocalityLoadBalancerSetting,
  OutlierDetection,
  PortTrafficPolicy,
  TrafficPolicy,
} from "./types.ts";
import { CLIENT_TLS_MODES, SIMPLE_LOAD_BALANCERS } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { readWarmup } from "./warmup.ts";
import { SpecFields } from "./fields.ts";
import { readPortNumber } from "./common.ts";
import { describe } from "../xds/parse/context.ts";

const INT32_MAX = 2_147_483_647;
const POLICY_PARTS = ["loadBalancer", "connectionPool", "outlierDetection", "tls"];

export function readTrafficPolicy(ctx: ResourceContext, raw: unknown, path: string): TrafficPolicy {
  const f = SpecFields.open(ctx, raw, path, {
    known: [...POLICY_PARTS, "portLevelSettings"],
    refused: {
      tunnel: "tunnel (HTTP CONNECT tunnelling) is not supported",
      proxyProtocol: "proxyProtocol is not supported",
    },
  });
  const policy: TrafficPolicy = { ...readPolicyParts(f), portLevelSettings: [] };
  // Istio: an empty trafficPolicy (or one of only unknown fields) is a mistake, not "defaults".
  const written = typeof raw === "object" && raw !== null ? Object.keys(raw) : [];
  if (!f.broken && ![...POLICY_PARTS, "portLevelSettings", "tunnel", "proxyProtocol"].some((n) => written.includes(n)))
    ctx.error(path, `expected at least one of ${[...POLICY_PARTS, "portLevelSettings"].join(", ")}`);
  const seen = new Set<number>();
  for (const item of f.list("portLevelSettings")) {
    const p = SpecFields.open(ctx, item.value, item.path, { known: ["port", ...POLICY_PARTS] });
    const port = p.require("port") ? (readPortNumber(p.message("port", { known: ["number"] }), "number") ?? 0) : 0;
    if (port !== 0 && seen.has(port)) p.error("port", `port ${port} appears in more than one portLevelSettings entry`);
    seen.add(port);
    const settings: PortTrafficPolicy = { port: { number: port }, ...readPolicyParts(p) };
    if (!p.broken && !POLICY_PARTS.some((n) => p.has(n)))
      ctx.error(item.path, `expected at least one of ${POLICY_PARTS.join(", ")} besides the port`);
    policy.portLevelSettings.push(settings);
  }
  return policy;
}

function readPolicyParts(f: SpecFields): Omit<PortTrafficPolicy, "port"> {
  const out: Omit<PortTrafficPolicy, "port"> = {};
  if (f.has("loadBalancer")) out.loadBalancer = readLoadBalancer(f.message("loadBalancer", LOAD_BALANCER));
  if (f.has("connectionPool"))
    out.connectionPool = readConnectionPool(f.ctx, f.raw("connectionPool"), f.at("connectionPool"));
  if (f.has("outlierDetection")) out.outlierDetection = readOutlierDetection(f.message("outlierDetection", OUTLIER));
  if (f.has("tls")) out.tls = readClientTls(f.message("tls", TLS));
  return out;
}

const LOAD_BALANCER = { known: ["simple", "consistentHash", "localityLbSetting", "warmupDurationSecs", "warmup"] };

function readLoadBalancer(f: SpecFields): LoadBalancerSettings {
  const out: LoadBalancerSettings = {};
  f.oneOf(["simple", "consistentHash"], false);
  const simple = f.enumValue("simple", SIMPLE_LOAD_BALANCERS);
  if (simple !== undefined) out.simple = simple;
  if (f.has("consistentHash")) out.consistentHash = readConsistentHash(f.message("consistentHash", CONSISTENT_HASH));
  if (f.has("localityLbSetting"))
    out.localityLbSetting = readLocalityLbSetting(f.message("localityLbSetting", LOCALITY));
  const warmup = f.duration("warmupDurationSecs", 1);
  if (warmup !== undefined) out.warmupDurationSecs = warmup;
  if (f.has("warmup"))
    out.warmup = readWarmup(f.message("warmup", { known: ["duration", "minimumPercent", "aggression"] }));
  return out;
}

const HASH_KEYS = ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"] as const;
const CONSISTENT_HASH = { known: [...HASH_KEYS, "ringHash", "maglev", "minimumRingSize"] };

function readConsistentHash(f: SpecFields): ConsistentHashLB {
  const out: ConsistentHashLB = {};
  f.oneOf(HASH_KEYS, true);
  const header = f.string("httpHeaderName");
  if (header !== undefined) out.httpHeaderName = header;
  const query = f.string("httpQueryParameterName");
  if (query !== undefined) out.httpQueryParameterName = query;
  const sourceIp = f.bool("useSourceIp");
  if (sourceIp !== undefined) out.useSourceIp = sourceIp;
  if (f.has("httpCookie")) {
    const c = f.message("httpCookie", { known: ["name", "path", "ttl"] });
    out.httpCookie = { name: c.requiredString("name") };
    const path = c.string("path");
    if (path !== undefined) out.httpCookie.path = path;
    const ttl = c.duration("ttl");
    if (ttl !== undefined) out.httpCookie.ttl = ttl;
  }
  f.oneOf(["ringHash", "maglev", "minimumRingSize"], false);
  if (f.has("ringHash")) {
    const r = f.message("ringHash", { known: ["minimumRingSize"] });
    out.ringHash = {};
    const size = r.integer("minimumRingSize", 1, Number.MAX_SAFE_INTEGER);
    if (size !== undefined) out.ringHash.minimumRingSize = size;
  } else if (f.has("minimumRingSize")) {
    const size = f.integer("minimumRingSize", 1, Number.MAX_SAFE_INTEGER);
    f.warn(
      "minimumRingSize",
      '"minimumRingSize" is deprecated: read as "ringHash: {minimumRingSize}"; write that instead',
    );
    out.ringHash = size === undefined ? {} : { minimumRingSize: size };
  }
  if (f.has("maglev")) {
    const m = f.message("maglev", { known: ["tableSize"] });
    out.maglev = {};
    const size = m.integer("tableSize", 1, 5_000_010);
    if (size !== undefined && !isPrime(size)) m.error("tableSize", `expected a prime number, got ${size}`);
    if (size !== undefined) out.maglev.tableSize = size;
  }
  return out;
}

const LOCALITY = { known: ["distribute", "failover", "failoverPriority", "enabled"] };

/** A localityLbSetting message (DestinationRule and MeshConfig write the same one). */
export function readLocalityLbSetting(f: SpecFields): LocalityLoadBalancerSetting {
  const out: LocalityLoadBalancerSetting = {
    distribute: f.list("distribute").map((item) => {
      const d = SpecFields.open(f.ctx, item.value, item.path, { known: ["from", "to"] });
      const to: Record<string, number> = {};
      let total = 0;
      for (const entry of d.entries("to")) {
        if (
          typeof entry.value === "number" &&
          Number.isInteger(entry.value) &&
          entry.value >= 1 &&
          entry.value <= 100
        ) {
          to[entry.key] = entry.value;
          total += entry.value;
          // Istio refuses 0 too ("locality weight must be in range [1, 100]"): leave a locality out instead.
        } else f.ctx.error(entry.path, `expected an integer 1-100, got ${describe(entry.value)}`);
      }
      if (d.require("to") && total !== 100) d.error("to", `expected weights summing to 100, got ${total}`);
      return { from: d.requiredString("from"), to };
    }),
    failover: f.list("failover").map((item) => {
      const d = SpecFields.open(f.ctx, item.value, item.path, { known: ["from", "to"] });
      return { from: d.requiredString("from"), to: d.requiredString("to") };
    }),
    failoverPriority: f.stringList("failoverPriority"),
  };
  if (out.distribute.length > 0 && out.failover.length > 0) {
    f.ctx.error(f.path, "only one of distribute, failover may be set");
  }
  // Istio's validation: with `failover`, the locality labels in failoverPriority would rank localities twice.
  const topology = ["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"];
  const clash = out.failover.length > 0 ? out.failoverPriority.find((l) => topology.includes(l)) : undefined;
  if (clash !== undefined)
    f.ctx.error(f.path, `failover cannot be combined with the topology label ${clash} in failoverPriority`);
  const enabled = f.bool("enabled");
  if (enabled !== undefined) out.enabled = enabled;
  return out;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

export function readConnectionPool(ctx: ResourceContext, raw: unknown, path: string): ConnectionPoolSettings {
  const f = SpecFields.open(ctx, raw, path, { known: ["tcp", "http"] });
  const out: ConnectionPoolSettings = {};
  if (!f.broken && !f.has("tcp") && !f.has("http")) ctx.error(path, "expected at least one of tcp, http");
  if (f.has("tcp")) {
    const t = f.message("tcp", {
      known: ["maxConnections", "connectTimeout", "tcpKeepalive", "maxConnectionDuration", "idleTimeout"],
    });
    const tcp: NonNullable<ConnectionPoolSettings["tcp"]> = {};
    assign(tcp, "maxConnections", t.integer("maxConnections", 1, INT32_MAX));
    assign(tcp, "connectTimeout", t.duration("connectTimeout", 1));
    assign(tcp, "maxConnectionDuration", t.duration("maxConnectionDuration", 1));
    assign(tcp, "idleTimeout", t.duration("idleTimeout"));
    if (t.has("tcpKeepalive")) {
      const k = t.message("tcpKeepalive", { known: ["probes", "time", "interval"] });
      const keepalive: NonNullable<typeof tcp.tcpKeepalive> = {};
      assign(keepalive, "probes", k.integer("probes", 0, 4_294_967_295));
      assign(keepalive, "time", k.duration("time", 1));
      assign(keepalive, "interval", k.duration("interval", 1));
      tcp.tcpKeepalive = keepalive;
    }
    out.tcp = tcp;
  }
  if (f.has("http")) {
    const h = f.message("http", {
      known: [
        "http1MaxPendingRequests",
        "http2MaxRequests",
        "maxRequestsPerConnection",
        "maxRetries",
        "idleTimeout",
        "h2UpgradePolicy",
        "useClientProtocol",
        "maxConcurrentStreams",
      ],
    });
    const http: NonNullable<ConnectionPoolSettings["http"]> = {};
    assign(http, "http1MaxPendingRequests", h.integer("http1MaxPendingRequests", 1, INT32_MAX));
    assign(http, "http2MaxRequests", h.integer("http2MaxRequests", 1, INT32_MAX));
    assign(http, "maxRequestsPerConnection", h.integer("maxRequestsPerConnection", 0, INT32_MAX));
    assign(http, "maxRetries", h.integer("maxRetries", 0, INT32_MAX));
    assign(http, "idleTimeout", h.duration("idleTimeout", 1));
    assign(http, "h2UpgradePolicy", h.enumValue("h2UpgradePolicy", ["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"] as const));
    assign(http, "useClientProtocol", h.bool("useClientProtocol"));
    assign(http, "maxConcurrentStreams", h.integer("maxConcurrentStreams", 1, INT32_MAX));
    out.http = http;
  }
  return out;
}

const OUTLIER = {
  known: [
    "splitExternalLocalOriginErrors",
    "consecutiveLocalOriginFailures",
    "consecutiveGatewayErrors",
    "consecutive5xxErrors",
    "consecutiveErrors",
    "interval",
    "baseEjectionTime",
    "maxEjectionPercent",
    "minHealthPercent",
  ],
};

function readOutlierDetection(f: SpecFields): OutlierDetection {
  const out: OutlierDetection = {};
  assign(out, "splitExternalLocalOriginErrors", f.bool("splitExternalLocalOriginErrors"));
  assign(out, "consecutiveLocalOriginFailures", f.integer("consecutiveLocalOriginFailures", 0, INT32_MAX));
  assign(out, "consecutiveGatewayErrors", f.integer("consecutiveGatewayErrors", 0, INT32_MAX));
  assign(out, "consecutive5xxErrors", f.integer("consecutive5xxErrors", 0, INT32_MAX));
  if (f.has("consecutiveErrors")) {
    // Istio deprecated consecutiveErrors in 1.5. Its old meaning was "any 5xx" for HTTP — exactly what
    // consecutive5xxErrors counts (Envoy's consecutive_5xx) — so it maps there; Istio itself did the same, and for
    // TCP services both count connect failures and timeouts.
    const errors = f.integer("consecutiveErrors", 0, INT32_MAX);
    if (f.has("consecutive5xxErrors")) {
      f.error("consecutiveErrors", "only one of consecutiveErrors (deprecated) and consecutive5xxErrors may be set");
    } else if (errors !== undefined) {
      f.warn(
        "consecutiveErrors",
        `"consecutiveErrors" is deprecated: read as "consecutive5xxErrors: ${errors}"; write that instead`,
      );
      out.consecutive5xxErrors = errors;
    }
  }
  assign(out, "interval", f.duration("interval", 1));
  assign(out, "baseEjectionTime", f.duration("baseEjectionTime", 1));
  assign(out, "maxEjectionPercent", f.integer("maxEjectionPercent", 0, 100));
  assign(out, "minHealthPercent", f.integer("minHealthPercent", 0, 100));
  if (out.consecutiveLocalOriginFailures !== undefined && out.splitExternalLocalOriginErrors !== true) {
    f.error("consecutiveLocalOriginFailures", "needs splitExternalLocalOriginErrors: true (Istio's rule)");
  }
  return out;
}

const TLS = {
  known: [
    "mode",
    "clientCertificate",
    "privateKey",
    "caCertificates",
    "credentialName",
    "subjectAltNames",
    "sni",
    "insecureSkipVerify",
    "caCrl",
  ],
};

function readClientTls(f: SpecFields): ClientTLSSettings {
  const out: ClientTLSSettings = {
    mode: f.enumValue("mode", CLIENT_TLS_MODES) ?? "DISABLE",
    subjectAltNames: f.stringList("subjectAltNames"),
  };
  for (const field of [
    "clientCertificate",
    "privateKey",
    "caCertificates",
    "credentialName",
    "sni",
    "caCrl",
  ] as const) {
    assign(out, field, f.string(field));
  }
  assign(out, "insecureSkipVerify", f.bool("insecureSkipVerify"));
  if (out.mode === "MUTUAL" && out.credentialName === undefined) {
    if (out.clientCertificate === undefined)
      f.error("clientCertificate", "required when mode is MUTUAL (or give credentialName)");
    if (out.privateKey === undefined) f.error("privateKey", "required when mode is MUTUAL (or give credentialName)");
  }
  // Istio: skipping verification and naming what to verify against contradict each other.
  if (out.insecureSkipVerify === true && (out.mode === "SIMPLE" || out.mode === "MUTUAL")) {
    const verify = [
      out.caCertificates !== undefined ? "caCertificates" : "",
      out.mode === "SIMPLE" && out.credentialName !== undefined ? "credentialName" : "",
      f.has("subjectAltNames") ? "subjectAltNames" : "",
    ].filter((x) => x !== "");
    if (verify.length > 0)
      f.error("insecureSkipVerify", `cannot be true together with ${verify.join(", ")} (what to verify against)`);
  }
  // Istio: with credentialName the certificates come from the secret, not from files.
  if ((out.mode === "SIMPLE" || out.mode === "MUTUAL") && out.credentialName !== undefined) {
    const files = (["clientCertificate", "privateKey", "caCertificates", "caCrl"] as const).filter(
      (n) => out[n] !== undefined,
    );
    if (files.length > 0) f.error("credentialName", `cannot be set together with ${files.join(", ")}`);
  }
  return out;
}

/** Sets `target[key]` only when `value` was given, so an absent field stays absent. */
export function assign<T, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
