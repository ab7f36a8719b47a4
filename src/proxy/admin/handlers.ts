// The admin endpoints, Envoy's names and bodies: one table, each entry a path, the method it needs, a help line and
// a function from the request's query to a reply. No I/O here, so every endpoint is testable without a socket.

import { renderEnvoyStatsJson, renderEnvoyStatsText } from "../../telemetry/envoy-stats-text.ts";
import { renderClustersJson, renderClustersText } from "./clusters-format.ts";
import type { AdminTarget } from "./target.ts";

export interface AdminReply {
  status: number;
  contentType: string;
  body: string;
  /** Runs once the reply has been written (quitquitquit shuts down only after answering). */
  after?: () => void;
  headers?: Record<string, string>;
}

export interface AdminEndpoint {
  path: string;
  /** Envoy's mutates_server_state endpoints take POST only; the rest answer GET (and HEAD). */
  method: "GET" | "POST";
  help: string;
  handle(target: AdminTarget, query: URLSearchParams): AdminReply;
}

const TEXT = "text/plain; charset=UTF-8";
const JSON_TYPE = "application/json";
const PROMETHEUS = "text/plain; version=0.0.4; charset=UTF-8";

const text = (body: string, status = 200): AdminReply => ({ status, contentType: TEXT, body });
const json = (value: unknown, status = 200): AdminReply => ({
  status,
  contentType: JSON_TYPE,
  body: JSON.stringify(value, null, 2) + "\n",
});

/** A query flag is on when present without a value or with anything but "false"/"0" (?usedonly, ?graceful). */
function flag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  return v !== null && v !== "false" && v !== "0";
}

/** ?filter=REGEX; a bad expression is the caller's mistake (400), never a crash. */
function filterOf(query: URLSearchParams): RegExp | AdminReply | undefined {
  const f = query.get("filter");
  if (f === null || f === "") return undefined;
  try {
    return new RegExp(f);
  } catch (err) {
    return text(`invalid regex in filter: ${(err as Error).message}\n`, 400);
  }
}

function stateOf(target: AdminTarget): string {
  const info = target.serverInfo();
  if (typeof info === "object" && info !== null && typeof (info as { state?: unknown }).state === "string") {
    return (info as { state: string }).state;
  }
  return "PRE_INITIALIZING";
}

/** ?resource=static_clusters: every element of that repeated field, across the dump's configs (Envoy's rule). */
function selectResource(dump: unknown, resource: string): AdminReply {
  const configs = (dump as { configs?: unknown } | null)?.configs;
  const out: unknown[] = [];
  let found = false;
  if (Array.isArray(configs)) {
    for (const c of configs) {
      const field = (c as Record<string, unknown> | null)?.[resource];
      if (Array.isArray(field)) {
        found = true;
        out.push(...field);
      }
    }
  }
  if (!found) return text(`no repeated field named ${JSON.stringify(resource)} in the config dump\n`, 404);
  return json({ configs: out });
}

/** name::address lines from the listeners dump (Envoy's /listeners). */
function listenersText(dump: unknown): string {
  let out = "";
  const configs = (dump as { configs?: unknown } | null)?.configs;
  if (!Array.isArray(configs)) return out;
  for (const c of configs) {
    const listeners = (c as { static_listeners?: unknown } | null)?.static_listeners;
    if (!Array.isArray(listeners)) continue;
    for (const item of listeners) {
      const l = ((item as { listener?: unknown })?.listener ?? item) as {
        name?: unknown;
        address?: { socket_address?: { address?: unknown; port_value?: unknown } };
      };
      const sa = l?.address?.socket_address;
      out += `${String(l?.name ?? "")}::${String(sa?.address ?? "")}:${String(sa?.port_value ?? "")}\n`;
    }
  }
  return out;
}

export const ADMIN_ENDPOINTS: readonly AdminEndpoint[] = [
  {
    path: "/",
    method: "GET",
    help: "this list of admin endpoints",
    handle: () => text(helpText()),
  },
  {
    path: "/help",
    method: "GET",
    help: "print out list of admin commands",
    handle: () => text(helpText()),
  },
  {
    path: "/ready",
    method: "GET",
    help: "print server state, return 200 if LIVE, otherwise return 503",
    handle: (t) => {
      if (t.isReady()) return text("LIVE\n");
      const state = stateOf(t);
      return text(`${state === "LIVE" ? "PRE_INITIALIZING" : state}\n`, 503);
    },
  },
  {
    path: "/server_info",
    method: "GET",
    help: "print server version/status information",
    handle: (t) => json(t.serverInfo()),
  },
  {
    path: "/config_dump",
    method: "GET",
    help: "dump current Envoy configs; ?resource=FIELD selects one repeated field (e.g. static_clusters)",
    handle: (t, q) => {
      const dump = t.configDump();
      const resource = q.get("resource");
      return resource ? selectResource(dump, resource) : json(dump);
    },
  },
  {
    path: "/clusters",
    method: "GET",
    help: "upstream cluster status; ?format=json for JSON",
    handle: (t, q) =>
      q.get("format") === "json" ? json(renderClustersJson(t.clusters())) : text(renderClustersText(t.clusters())),
  },
  {
    path: "/listeners",
    method: "GET",
    help: "print listener info",
    handle: (t) => text(listenersText(t.configDump())),
  },
  {
    path: "/stats",
    method: "GET",
    help: "print server stats; ?filter=REGEX, ?usedonly, ?format=json|prometheus",
    handle: (t, q) => {
      const filter = filterOf(q);
      if (filter !== undefined && !(filter instanceof RegExp)) return filter;
      const options = { filter, usedOnly: flag(q, "usedonly") };
      switch (q.get("format")) {
        case "json":
          return json(renderEnvoyStatsJson(t.stats, options));
        case "prometheus":
          return { status: 200, contentType: PROMETHEUS, body: t.stats.renderPrometheus(options) };
        default:
          return text(renderEnvoyStatsText(t.stats, options));
      }
    },
  },
  {
    path: "/stats/prometheus",
    method: "GET",
    help: "print server stats in prometheus format; ?usedonly, ?filter=REGEX",
    handle: (t, q) => {
      const filter = filterOf(q);
      if (filter !== undefined && !(filter instanceof RegExp)) return filter;
      return {
        status: 200,
        contentType: PROMETHEUS,
        body: t.stats.renderPrometheus({ filter, usedOnly: flag(q, "usedonly") }),
      };
    },
  },
  {
    path: "/memory",
    method: "GET",
    help: "print current allocation/heap usage",
    handle: () => {
      const m = process.memoryUsage();
      return json({
        allocated: String(m.heapUsed),
        heap_size: String(m.heapTotal),
        total_physical_bytes: String(m.rss),
        external: String(m.external),
        array_buffers: String(m.arrayBuffers),
      });
    },
  },
  {
    path: "/drain_listeners",
    method: "POST",
    help: "drain listeners; ?graceful waits for connections to finish, ?inboundonly drains inbound listeners only",
    handle: (t, q) => {
      t.drainListeners({ graceful: flag(q, "graceful"), inboundOnly: flag(q, "inboundonly") });
      return text("OK\n");
    },
  },
  {
    path: "/quitquitquit",
    method: "POST",
    help: "exit the server",
    handle: (t) => ({ ...text("OK\n"), after: () => t.quit() }),
  },
];

export function helpText(): string {
  return (
    "admin commands are:\n" +
    ADMIN_ENDPOINTS.filter((e) => e.path !== "/")
      .map((e) => `  ${e.path}${e.method === "POST" ? " (POST)" : ""}: ${e.help}\n`)
      .join("")
  );
}

const BY_PATH = new Map(ADMIN_ENDPOINTS.map((e) => [e.path, e]));

/**
 * Routes one request. Never throws: a failing target becomes a 500 with the reason, an unknown path a 404 with
 * the list, a wrong method a 405 naming the right one.
 */
export function handleAdminRequest(
  target: AdminTarget,
  method: string,
  path: string,
  query: URLSearchParams,
): AdminReply {
  const endpoint = BY_PATH.get(path);
  if (endpoint === undefined) return text(`invalid path. ${helpText()}`, 404);
  const allowed = endpoint.method === "POST" ? method === "POST" : method === "GET" || method === "HEAD";
  if (!allowed) {
    return {
      ...text(`Method ${method} not allowed, ${endpoint.method} required.\n`, 405),
      headers: { allow: endpoint.method === "POST" ? "POST" : "GET, HEAD" },
    };
  }
  try {
    return endpoint.handle(target, query);
  } catch (err) {
    return text(`internal error in ${path}: ${err instanceof Error ? err.message : String(err)}\n`, 500);
  }
}
