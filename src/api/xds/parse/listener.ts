// Listener → its address, listener filters (tls_inspector) and filter chains, each chosen by its filter_chain_match
// (see filter-chain-match.ts) or default_filter_chain. A chain is zero or more non-terminal network filters
// (local_ratelimit), then exactly one terminal filter, http_connection_manager or tcp_proxy, last.

import type { FilterChain, Listener, NetworkFilter } from "../types.ts";
import { readAddress } from "./address.ts";
import { describe, ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import type { Item } from "./fields.ts";
import { matchKeys, readFilterChainMatch } from "./filter-chain-match.ts";
import { readListenerFilters } from "./listener-filters.ts";
import {
  HCM_FILTER_NAME,
  HCM_TYPE_URL,
  readHttpConnectionManager,
  readTypedConfig,
} from "./http-connection-manager.ts";
import { readDownstreamTransportSocket } from "./transport-socket.ts";
import { readTcpProxy, TCP_PROXY_FILTER_NAME, TCP_PROXY_TYPE_URL } from "./tcp-proxy.ts";
import {
  NETWORK_LOCAL_RATELIMIT_FILTER_NAME,
  NETWORK_LOCAL_RATELIMIT_TYPE_URL,
  readNetworkLocalRateLimit,
} from "./network-local-ratelimit.ts";

/** Envoy's default listener_filters_timeout: 15 s. */
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

/** Envoy's default per_connection_buffer_limit_bytes: 1 MiB. */
export const DEFAULT_BUFFER_LIMIT_BYTES = 1_048_576;

const LISTENER_SPEC = {
  handled: [
    "name",
    "address",
    "filter_chains",
    "default_filter_chain",
    "listener_filters",
    "listener_filters_timeout",
    "continue_on_listener_filters_timeout",
    "per_connection_buffer_limit_bytes",
    "use_original_dst",
    "bind_to_port",
  ],
  ignored: ["stat_prefix", "metadata", "traffic_direction", "drain_type"],
  unsupported: [
    "additional_addresses",
    "filter_chain_matcher",
    "transparent",
    "freebind",
    "socket_options",
    "tcp_fast_open_queue_length",
    "udp_listener_config",
    "api_listener",
    "connection_balance_config",
    "reuse_port",
    "enable_reuse_port",
    "access_log",
    "tcp_backlog_size",
    "max_connections_to_accept_per_socket_event",
    "internal_listener",
    "enable_mptcp",
    "ignore_global_conn_limit",
    "fcds_config",
  ],
} as const;

const FILTER_CHAIN_SPEC = {
  handled: ["name", "filters", "filter_chain_match", "transport_socket", "transport_socket_connect_timeout"],
  ignored: ["metadata"],
  unsupported: ["use_proxy_proto", "on_demand_configuration"],
} as const;

const NETWORK_FILTER_SPEC = { handled: ["name", "typed_config"], unsupported: ["config_discovery"] } as const;

const KNOWN_FILTERS = [
  { kind: "http_connection_manager", name: HCM_FILTER_NAME, typeUrl: HCM_TYPE_URL, terminal: true },
  { kind: "tcp_proxy", name: TCP_PROXY_FILTER_NAME, typeUrl: TCP_PROXY_TYPE_URL, terminal: true },
  {
    kind: "local_ratelimit",
    name: NETWORK_LOCAL_RATELIMIT_FILTER_NAME,
    typeUrl: NETWORK_LOCAL_RATELIMIT_TYPE_URL,
    terminal: false,
  },
] as const;

const TERMINAL_KINDS: ReadonlySet<NetworkFilter["kind"]> = new Set(
  KNOWN_FILTERS.filter((f) => f.terminal).map((f) => f.kind),
);

/**
 * Reads a Listener at `path`, reporting into `ctx`. `nameOptional`: a bootstrap's listener may go unnamed (Envoy
 * names it itself; the bootstrap reader does too); an LDS resource is known by its name.
 */
export function readListener(ctx: ParseContext, raw: unknown, path: string, nameOptional = false): Listener {
  const listener = Fields.open(ctx, raw, path, LISTENER_SPEC);
  const name = nameOptional ? (listener.string("name") ?? "") : listener.requiredString("name");
  const address = listener.requireField("address")
    ? readAddress(ctx, listener.raw("address"), listener.at("address"), { allowHostName: false, allowPortZero: true })
    : { address: "", port: 0 };
  const chains = listener.list("filter_chains");
  const defaultFilterChain = listener.has("default_filter_chain")
    ? readFilterChain(ctx, { value: listener.raw("default_filter_chain"), path: listener.at("default_filter_chain") })
    : undefined;
  if (chains.length === 0 && defaultFilterChain === undefined && !listener.broken) {
    listener.report("filter_chains", "expected at least one filter chain (or a default_filter_chain)");
  }
  const filterChains = chains.map((item) => readFilterChain(ctx, item));
  checkOverlaps(ctx, filterChains, chains);
  return {
    name,
    address,
    filterChains,
    defaultFilterChain,
    listenerFilters: readListenerFilters(ctx, listener.list("listener_filters")),
    listenerFiltersTimeoutMs: listener.durationMs("listener_filters_timeout") ?? DEFAULT_LISTENER_FILTERS_TIMEOUT_MS,
    continueOnListenerFiltersTimeout: listener.bool("continue_on_listener_filters_timeout", false),
    perConnectionBufferLimitBytes: listener.integer("per_connection_buffer_limit_bytes", DEFAULT_BUFFER_LIMIT_BYTES),
    useOriginalDst: listener.bool("use_original_dst", false),
    bindToPort: listener.bool("bind_to_port", true),
  };
}

/** Parses one Listener resource; throws ConfigError naming every problem. */
export function parseListener(raw: unknown, path?: string): Listener {
  const ctx = new ParseContext();
  const listener = readListener(ctx, raw, path ?? "");
  ctx.throwIfFailed(path ?? (listener.name === "" ? "listener" : `listener ${listener.name}`));
  return listener;
}

/** Two chains that share a leaf of the lookup (Envoy: "multiple filter chains with overlapping matching rules"). */
function checkOverlaps(ctx: ParseContext, chains: readonly FilterChain[], items: readonly Item[]): void {
  const owner = new Map<string, number>();
  chains.forEach((chain, i) => {
    const clash = matchKeys(chain.match).find((key) => owner.has(key));
    if (clash !== undefined) {
      const other = owner.get(clash)!;
      ctx.report(
        `${items[i]!.path}.filter_chain_match`,
        `overlaps filter_chains[${other}]: a connection matching both could only ever reach one of them`,
      );
    }
    for (const key of matchKeys(chain.match)) if (!owner.has(key)) owner.set(key, i);
  });
}

function readFilterChain(ctx: ParseContext, item: Item): FilterChain {
  const chain = Fields.open(ctx, item.value, item.path, FILTER_CHAIN_SPEC);
  const match = readFilterChainMatch(ctx, chain.raw("filter_chain_match"), chain.at("filter_chain_match"));
  const items = chain.list("filters");
  if (items.length === 0 && !chain.broken) chain.report("filters", "expected at least one network filter");
  const filters: NetworkFilter[] = [];
  items.forEach((filterItem, i) => {
    const filter = readNetworkFilter(ctx, filterItem);
    if (filter === undefined) return;
    const last = i === items.length - 1;
    // A terminal filter takes the connection over, so nothing after it could ever run; a chain must end in one.
    if (TERMINAL_KINDS.has(filter.kind) && !last)
      ctx.report(filterItem.path, `${filter.name} is a terminal filter and must be last`);
    if (!TERMINAL_KINDS.has(filter.kind) && last)
      ctx.report(
        filterItem.path,
        `${filter.name} is not a terminal filter: the chain must end with http_connection_manager or tcp_proxy`,
      );
    filters.push(filter);
  });
  const tls = readDownstreamTransportSocket(chain, "transport_socket");
  const connectTimeoutMs = chain.durationMs("transport_socket_connect_timeout");
  return {
    name: chain.string("name") ?? "",
    match,
    filters,
    ...(tls === undefined ? {} : { tls }),
    ...(connectTimeoutMs === undefined || connectTimeoutMs === 0
      ? {}
      : { transportSocketConnectTimeoutMs: connectTimeoutMs }),
  };
}

/** Recognised by typed_config's @type, else by name; anything else is refused by name, never dropped. */
function readNetworkFilter(ctx: ParseContext, item: Item): NetworkFilter | undefined {
  const filter = Fields.open(ctx, item.value, item.path, NETWORK_FILTER_SPEC);
  const name = filter.requiredString("name");
  const { typeUrl } = readTypedConfig(filter);
  const byType = KNOWN_FILTERS.find((known) => known.typeUrl === typeUrl);
  const byName = KNOWN_FILTERS.find((known) => known.name === name);
  if (typeUrl !== "" && byType === undefined) {
    ctx.report(filter.at("typed_config"), `unknown network filter ${describe(name)} (type ${typeUrl})`);
    return undefined;
  }
  if (byType !== undefined && byName !== undefined && byType !== byName) {
    ctx.report(filter.at("typed_config"), `@type ${typeUrl} does not match the filter name ${describe(name)}`);
    return undefined;
  }
  const known = byType ?? byName;
  if (known === undefined) {
    if (name !== "") ctx.report(filter.at("name"), `unknown network filter ${describe(name)}`);
    return undefined;
  }
  if (!filter.has("typed_config")) {
    filter.report("typed_config", `required: the configuration of ${known.name}`);
    return undefined;
  }
  const configPath = filter.at("typed_config");
  const config = filter.raw("typed_config");
  switch (known.kind) {
    case "http_connection_manager":
      return { kind: known.kind, name, config: readHttpConnectionManager(ctx, config, configPath) };
    case "tcp_proxy":
      return { kind: known.kind, name, config: readTcpProxy(ctx, config, configPath) };
    case "local_ratelimit":
      return { kind: known.kind, name, config: readNetworkLocalRateLimit(ctx, config, configPath) };
  }
}
