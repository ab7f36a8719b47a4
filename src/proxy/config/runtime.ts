// The proxy's run-time configuration: clusters, listeners and route tables, static (from the bootstrap) and
// dynamic (from xDS). Each xDS response is applied whole or not at all: every resource parses and builds, then
// whole objects are swapped in — the data path never sees a half-applied update and pays nothing per request for it.
//
// - Clusters: a changed cluster gets a new UpstreamCluster in the (shared) cluster map; the old one stops health
//   checking at once and closes its pools once their requests in flight are done.
// - Endpoints (EDS): flow into the EDS clusters' ClusterMembership.update, which keeps endpoint objects, health and
//   counters of the endpoints that stay.
// - Listeners: added ones are built, then bound; changed ones swap in a new runtime (the bound socket is kept when
//   the address is unchanged), removed ones drain. Connections keep the runtime they started on.
// - Route configurations (RDS): see routes.ts.

import net from "node:net";
import os from "node:os";
import type { Clock } from "../../api/clock.ts";
import { TrellisError } from "../../api/errors.ts";
import type { Cluster, ClusterLoadAssignment, Listener } from "../../api/xds/types.ts";
import { TYPE_URL } from "../../api/xds/wire/codec.ts";
import type { StatsStore } from "../../telemetry/stats.ts";
import type { AccessLogManager } from "../http/access-logger.ts";
import type { HttpConnectionManagerRuntime } from "../http/connection-manager.ts";
import type { ListenerRuntime } from "../listener/listener.ts";
import type { UpstreamCluster } from "../upstream/cluster.ts";
import type { DnsLookup, StrictDnsResolver } from "../upstream/dns.ts";
import { endpointsFromAssignment } from "../upstream/membership.ts";
import { buildCluster, buildListener, type BuildContext, type BuiltListener } from "./build.ts";
import { XdsUpdateRejected, problemOf } from "./errors.ts";
import { parseAssignments, parseClusters, parseListeners, parseRouteConfigurations } from "./parse-update.ts";
import { makeRecord, type DynamicRecord } from "./records.ts";
import { RouteConfigRegistry } from "./routes.ts";
import type { Secret } from "../../api/xds/types.ts";
import { parseSecret, SECRET_TYPE_URL } from "../../api/xds/parse/secret.ts";
import { adsSecretNames } from "../tls/context.ts";
import { checkSecret, SecretStore } from "../tls/secrets.ts";
import { redactSecrets } from "../tls/redact.ts";

export interface RuntimeOptions {
  clock: Clock;
  random: () => number;
  stats: StatsStore;
  log: (line: string) => void;
  accessLogManager: AccessLogManager;
  /** How long a replaced or removed listener or cluster may keep its connections and requests. */
  drainTimeoutMs: () => number;
  /** The DNS resolver of STRICT_DNS and LOGICAL_DNS clusters (default: the system's). */
  dnsLookup?: DnsLookup;
}

interface ActiveListener {
  runtime: ListenerRuntime;
  /** One per HTTP filter chain. */
  hcms: HttpConnectionManagerRuntime[];
  /** Undefined for a static listener. */
  record: DynamicRecord | undefined;
}

export class RuntimeConfig {
  /** Shared with every router and TCP proxy, which look clusters up by name: entries are swapped, never edited. */
  readonly clusters = new Map<string, UpstreamCluster>();
  readonly routes: RouteConfigRegistry;
  /** The version_info of the last update applied, per type URL. */
  readonly versions = new Map<string, string>();
  /** Static secrets (the bootstrap's) and SDS ones: TLS contexts read them at each handshake. */
  readonly secrets = new SecretStore();
  private readonly secretRecords = new Map<string, DynamicRecord>();
  private readonly resolvers = new Map<string, StrictDnsResolver>();
  private readonly listeners = new Map<string, ActiveListener>();
  private readonly retiring = new Set<ListenerRuntime>();
  private readonly dynamicClusters = new Map<string, DynamicRecord>();
  private readonly assignments = new Map<string, { value: ClusterLoadAssignment; record: DynamicRecord }>();
  private readonly staticNames = { listeners: new Set<string>(), clusters: new Set<string>() };
  private readonly staticLoggers: BuiltListener["accessLoggers"] = [];
  private readonly ctx: BuildContext;
  /**
   * The listeners in service by "address:port" (addresses canonical): where a use_original_dst listener hands a
   * connection. Rebuilt whenever the set of listeners changes.
   */
  private byAddress = new Map<string, ListenerRuntime>();
  /** Updates run one at a time, in arrival order (a listener update awaits its binds). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RuntimeOptions) {
    this.routes = new RouteConfigRegistry(options.random);
    this.ctx = {
      ...options,
      clusters: this.clusters,
      routes: this.routes,
      secrets: this.secrets,
      isOwnListener: (address, port) => this.isOwnListener(address, port),
    };
  }

  // ---- static resources (the bootstrap) ----------------------------------------------------------------------

  /** Builds the bootstrap's clusters and listeners; throws (nothing bound) when one cannot be built. */
  addStatic(clusters: readonly Cluster[], listeners: readonly Listener[], secrets: readonly Secret[] = []): void {
    for (const s of secrets) {
      checkSecret(s);
      this.secrets.set(s, "static", `static:${s.name}`);
    }
    for (const c of clusters) {
      const built = buildCluster(this.ctx, c);
      this.clusters.set(c.name, built.cluster);
      if (built.resolver) this.resolvers.set(c.name, built.resolver);
      this.staticNames.clusters.add(c.name);
    }
    for (const l of listeners) {
      const built = buildListener(this.ctx, l);
      this.listeners.set(l.name, { runtime: built.runtime, hcms: built.hcms, record: undefined });
      for (const hcm of built.hcms) this.routes.attach(hcm);
      this.staticLoggers.push(...built.accessLoggers);
      this.staticNames.listeners.add(l.name);
    }
    this.indexListeners();
  }

  /** Warms the static clusters (first DNS answers, first health checks), then binds every listener, all or none. */
  async start(): Promise<void> {
    await Promise.all([...this.resolvers.values()].map((r) => r.start()));
    await Promise.all([...this.clusters.values()].map((c) => c.initialize()));
    await Promise.all(this.staticLoggers.map((l) => l.open(this.options.accessLogManager)));
    const bound: ListenerRuntime[] = [];
    try {
      for (const { runtime } of this.listeners.values()) {
        if (!runtime.bindsPort) continue;
        await bind(runtime);
        bound.push(runtime);
      }
    } catch (err) {
      for (const l of bound) l.destroy();
      for (const c of this.clusters.values()) c.healthChecker?.stop();
      throw err;
    }
    this.indexListeners();
  }

  // ---- xDS updates -----------------------------------------------------------------------------------------------

  /**
   * Applies one xDS response (its resources as Envoy JSON) of `typeUrl`, all or nothing. Rejects with
   * XdsUpdateRejected listing every problem; the configuration is then exactly what it was.
   */
  apply(typeUrl: string, versionInfo: string, resources: readonly Record<string, unknown>[]): Promise<void> {
    const run = async (): Promise<void> => {
      switch (typeUrl) {
        case TYPE_URL.cluster:
          return this.applyClusters(versionInfo, resources);
        case TYPE_URL.clusterLoadAssignment:
          return this.applyAssignments(versionInfo, resources);
        case TYPE_URL.listener:
          return this.applyListeners(versionInfo, resources);
        case TYPE_URL.routeConfiguration:
          return this.applyRoutes(versionInfo, resources);
        case SECRET_TYPE_URL:
          return this.applySecrets(versionInfo, resources);
        default:
          throw new XdsUpdateRejected(typeUrl, [`resources of type ${typeUrl} are not supported`]);
      }
    };
    const done = this.queue.then(run);
    this.queue = done.catch(() => {});
    return done;
  }

  /** The service names of the EDS clusters: what the xDS client asks endpoints for. */
  edsServiceNames(): string[] {
    const names = new Set<string>();
    for (const c of this.clusters.values())
      if (c.config.edsServiceName !== undefined) names.add(c.config.edsServiceName);
    return [...names].sort();
  }

  /** The secrets the TLS contexts of listeners and clusters receive over ADS: what the xDS client asks SDS for. */
  secretNames(): string[] {
    const names = new Set<string>();
    for (const a of this.listeners.values())
      for (const chain of [...a.runtime.config.filterChains, a.runtime.config.defaultFilterChain])
        for (const n of adsSecretNames(chain?.tls?.common)) names.add(n);
    for (const c of this.clusters.values()) for (const n of adsSecretNames(c.config.tls?.common)) names.add(n);
    return [...names].sort();
  }

  /**
   * SDS: each secret is parsed and checked (PEM parses, key matches certificate) before any is taken; a bad one
   * refuses the update, naming it, and every secret keeps its last good version. A taken secret reaches the next
   * handshake of every context naming it; open connections keep theirs. Secrets not in the update stay (SDS is
   * asked by name; a listener that still names one keeps using it).
   */
  private applySecrets(version: string, raws: readonly Record<string, unknown>[]): void {
    const problems: string[] = [];
    const parsed: { secret: Secret; raw: Record<string, unknown>; fingerprint: string }[] = [];
    raws.forEach((raw, i) => {
      try {
        const secret = parseSecret(raw, `secret ${typeof raw.name === "string" ? raw.name : `resources[${i}]`}`);
        checkSecret(secret);
        parsed.push({ secret, raw, fingerprint: JSON.stringify(raw) });
      } catch (err) {
        problems.push(problemOf(err));
      }
    });
    if (problems.length > 0) throw new XdsUpdateRejected(SECRET_TYPE_URL, problems);
    for (const p of parsed) {
      if (this.secrets.set(p.secret, "ads", p.fingerprint))
        this.secretRecords.set(
          p.secret.name,
          this.record({ name: p.secret.name, raw: p.raw, fingerprint: p.fingerprint }, version),
        );
    }
    this.versions.set(SECRET_TYPE_URL, version);
  }

  private record(resource: { name: string; raw: Record<string, unknown>; fingerprint: string }, version: string) {
    return makeRecord(resource, version, this.options.clock.wallNow());
  }

  private applyClusters(version: string, raws: readonly Record<string, unknown>[]): void {
    const problems: string[] = [];
    const parsed = parseClusters(raws, problems);
    const built = new Map<string, ReturnType<typeof buildCluster> & { record: DynamicRecord }>();
    for (const p of parsed) {
      if (this.staticNames.clusters.has(p.name)) {
        problems.push(`cluster ${p.name}: a static cluster has this name (static resources are not replaced)`);
        continue;
      }
      if (this.dynamicClusters.get(p.name)?.fingerprint === p.fingerprint) continue; // unchanged: keep it whole
      try {
        const known = p.value.edsServiceName === undefined ? undefined : this.assignments.get(p.value.edsServiceName);
        built.set(p.name, { ...buildCluster(this.ctx, p.value, known?.value), record: this.record(p, version) });
      } catch (err) {
        problems.push(`cluster ${p.name}: ${problemOf(err)}`);
      }
    }
    if (problems.length > 0) {
      for (const b of built.values()) b.cluster.close();
      throw new XdsUpdateRejected(TYPE_URL.cluster, problems);
    }
    for (const [name, b] of built) {
      const previous = this.clusters.get(name);
      this.clusters.set(name, b.cluster);
      if (previous) this.retireCluster(name, previous);
      if (b.resolver) {
        this.resolvers.set(name, b.resolver);
        void b.resolver.start();
      }
      void b.cluster.initialize();
      this.dynamicClusters.set(name, b.record);
    }
    const present = new Set(parsed.map((p) => p.name));
    for (const name of [...this.dynamicClusters.keys()]) {
      if (present.has(name)) continue;
      const previous = this.clusters.get(name);
      this.clusters.delete(name);
      this.dynamicClusters.delete(name);
      if (previous) this.retireCluster(name, previous);
    }
    this.versions.set(TYPE_URL.cluster, version);
  }

  private retireCluster(name: string, cluster: UpstreamCluster): void {
    this.resolvers.get(name)?.stop();
    this.resolvers.delete(name);
    cluster.retire(this.options.drainTimeoutMs());
  }

  private applyAssignments(version: string, raws: readonly Record<string, unknown>[]): void {
    const problems: string[] = [];
    const parsed = parseAssignments(raws, problems);
    if (problems.length > 0) throw new XdsUpdateRejected(TYPE_URL.clusterLoadAssignment, problems);
    for (const p of parsed) {
      this.assignments.set(p.name, { value: p.value, record: this.record(p, version) });
      for (const c of this.clusters.values()) {
        if (c.config.edsServiceName === p.name) c.membership.update(endpointsFromAssignment(p.value));
      }
    }
    this.versions.set(TYPE_URL.clusterLoadAssignment, version);
  }

  private applyRoutes(version: string, raws: readonly Record<string, unknown>[]): void {
    const problems: string[] = [];
    const parsed = parseRouteConfigurations(raws, problems);
    const commit = this.routes.prepare(parsed, (p) => this.record(p, version), problems);
    if (problems.length > 0) throw new XdsUpdateRejected(TYPE_URL.routeConfiguration, problems);
    commit();
    this.versions.set(TYPE_URL.routeConfiguration, version);
  }

  private async applyListeners(version: string, raws: readonly Record<string, unknown>[]): Promise<void> {
    const problems: string[] = [];
    const parsed = parseListeners(raws, problems);
    const plan: { name: string; built: BuiltListener; previous: ActiveListener | undefined; record: DynamicRecord }[] =
      [];
    for (const p of parsed) {
      if (this.staticNames.listeners.has(p.name)) {
        problems.push(`listener ${p.name}: a static listener has this name (static resources are not replaced)`);
        continue;
      }
      const previous = this.listeners.get(p.name);
      if (previous?.record?.fingerprint === p.fingerprint) continue; // unchanged: connections are not disturbed
      try {
        plan.push({ name: p.name, built: buildListener(this.ctx, p.value), previous, record: this.record(p, version) });
      } catch (err) {
        problems.push(`listener ${p.name}: ${problemOf(err)}`);
      }
    }
    if (problems.length > 0) throw new XdsUpdateRejected(TYPE_URL.listener, problems);
    // Bind what needs a socket of its own (new listeners, moved ones) before anything is swapped.
    const bound: ListenerRuntime[] = [];
    try {
      for (const step of plan) {
        await Promise.all(step.built.accessLoggers.map((l) => l.open(this.options.accessLogManager)));
        if (!step.built.runtime.bindsPort || keepsSocket(step.previous, step.built.runtime)) continue;
        await bind(step.built.runtime);
        bound.push(step.built.runtime);
      }
    } catch (err) {
      for (const l of bound) l.destroy();
      throw new XdsUpdateRejected(TYPE_URL.listener, [problemOf(err)]);
    }
    for (const step of plan) {
      const { runtime, hcms } = step.built;
      if (step.previous !== undefined) {
        if (keepsSocket(step.previous, runtime)) runtime.adopt(step.previous.runtime);
        this.retireListener(step.previous);
      }
      this.listeners.set(step.name, { runtime, hcms, record: step.record });
      for (const hcm of hcms) this.routes.attach(hcm);
    }
    const present = new Set(parsed.map((p) => p.name));
    for (const [name, active] of [...this.listeners]) {
      if (active.record === undefined || present.has(name)) continue;
      this.listeners.delete(name);
      this.retireListener(active);
    }
    this.indexListeners();
    this.routes.prune();
    this.versions.set(TYPE_URL.listener, version);
  }

  /**
   * use_original_dst's lookup, in Envoy's order: the listener bound to exactly this address and port, else a
   * bind_to_port: false listener on 0.0.0.0:port (or [::]:port for an IPv6 address). Draining ones are not listed.
   */
  private indexListeners(): void {
    const index = new Map<string, ListenerRuntime>();
    for (const { runtime } of this.listeners.values()) {
      // A bound listener by the port it got (port 0 in its configuration), one that binds nothing by its address.
      const at = runtime.bindsPort ? runtime.address : runtime.config.address;
      const key = addressKey(runtime.config.address.address, at.port);
      const wildcard = runtime.config.address.address === "0.0.0.0" || runtime.config.address.address === "::";
      // A wildcard that binds its port is no target for an address it was not dialled at (Envoy's exact match only).
      if (wildcard && runtime.bindsPort) continue;
      if (!index.has(key)) index.set(key, runtime);
    }
    this.byAddress = index;
    const lookup = (address: string, port: number): ListenerRuntime | undefined =>
      this.byAddress.get(addressKey(address, port)) ??
      this.byAddress.get(addressKey(net.isIPv6(canonical(address)) ? "::" : "0.0.0.0", port));
    for (const { runtime } of this.listeners.values()) if (runtime.config.useOriginalDst) runtime.listenerFor = lookup;
  }

  /**
   * Whether a connection to address:port would reach one of this proxy's bound listeners: one bound to exactly that
   * address, or to 0.0.0.0/:: when the address is this host's own (loopback, or an interface's address).
   */
  private isOwnListener(address: string, port: number): boolean {
    const target = canonical(address);
    let local: Set<string> | undefined;
    for (const { runtime } of this.listeners.values()) {
      if (!runtime.bindsPort) continue;
      const bound = runtime.address;
      if (bound.port !== port) continue;
      const at = canonical(bound.address);
      if (at === target) return true;
      if (at !== "0.0.0.0" && at !== "::") continue;
      local ??= localAddresses();
      if (local.has(target) || target.startsWith("127.") || target === "::1") return true;
    }
    return false;
  }

  /** Drains a replaced or removed listener: it accepts nothing more; its connections finish, then it is closed. */
  private retireListener(active: ActiveListener): void {
    for (const hcm of active.hcms) this.routes.detach(hcm);
    const runtime = active.runtime;
    const timeoutMs = this.options.drainTimeoutMs();
    this.retiring.add(runtime);
    runtime.drain(Math.min(250, timeoutMs / 2));
    void waitForConnections([runtime], this.options.clock, timeoutMs).then(() => {
      runtime.destroy();
      this.retiring.delete(runtime);
    });
  }

  // ---- what the rest of the proxy reads ---------------------------------------------------------------------

  /** Listeners in service (not the draining ones), by name. */
  activeListeners(): ReadonlyMap<string, ListenerRuntime> {
    return new Map([...this.listeners].map(([name, a]) => [name, a.runtime]));
  }

  /** Every listener runtime with connections to care for: in service and draining. */
  allListenerRuntimes(): ListenerRuntime[] {
    return [...[...this.listeners.values()].map((a) => a.runtime), ...this.retiring];
  }

  stopResolvers(): void {
    for (const r of this.resolvers.values()) r.stop();
  }

  /** /config_dump's dynamic sections, in Envoy's shapes. */
  dynamicDump(): {
    listeners: unknown[];
    clusters: unknown[];
    routes: unknown[];
    endpoints: unknown[];
    secrets: unknown[];
  } {
    const listeners = [...this.listeners.values()].flatMap((a) =>
      a.record === undefined
        ? []
        : [
            {
              name: a.record.name,
              active_state: {
                version_info: a.record.versionInfo,
                listener: a.record.raw,
                last_updated: a.record.lastUpdated,
              },
            },
          ],
    );
    const clusters = [...this.dynamicClusters.values()].map((r) => ({
      version_info: r.versionInfo,
      cluster: r.raw,
      last_updated: r.lastUpdated,
    }));
    const routes = this.routes.records().map((r) => ({
      version_info: r.versionInfo,
      route_config: r.raw,
      last_updated: r.lastUpdated,
    }));
    const endpoints = [...this.assignments.values()].map(({ record: r }) => ({
      version_info: r.versionInfo,
      endpoint_config: r.raw,
      last_updated: r.lastUpdated,
    }));
    // Envoy's SecretsConfigDump: the key shown as [redacted].
    const secrets = [...this.secretRecords.values()].map((r) => ({
      name: r.name,
      version_info: r.versionInfo,
      last_updated: r.lastUpdated,
      secret: redactSecrets(r.raw),
    }));
    return { listeners, clusters, routes, endpoints, secrets };
  }
}

/** An update keeps the bound socket when both listen, on the same address. */
function keepsSocket(previous: ActiveListener | undefined, next: ListenerRuntime): boolean {
  return (
    previous !== undefined && previous.runtime.bindsPort && next.bindsPort && previous.runtime.sameAddress(next.config)
  );
}

/** The addresses of this network namespace's interfaces, canonical. */
function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) out.add(canonical(a.address));
  return out;
}

/** IPv4-mapped IPv6 as IPv4, IPv6 in its canonical form. */
function canonical(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  return net.isIPv6(address) ? new net.SocketAddress({ address, family: "ipv6" }).address : address;
}

function addressKey(address: string, port: number): string {
  return `${canonical(address)}|${port}`;
}

async function bind(l: ListenerRuntime): Promise<void> {
  const { address, port } = l.config.address;
  await l.listen().catch((err: NodeJS.ErrnoException) => {
    throw new TrellisError(
      "TRELLIS_BIND_FAILED",
      `listener ${l.config.name}: cannot bind ${address}:${port}: ${err.code ?? err.message}`,
      { cause: err },
    );
  });
}

/** Resolves when the listeners have no connection left, or at the deadline (polled on the clock). */
export function waitForConnections(
  listeners: readonly ListenerRuntime[],
  clock: Clock,
  timeoutMs: number,
): Promise<void> {
  const deadline = clock.now() + timeoutMs;
  return new Promise<void>((resolve) => {
    const check = (): void => {
      const open = listeners.reduce((n, l) => n + l.openConnections, 0);
      if (open === 0 || clock.now() >= deadline) resolve();
      else clock.setTimer(Math.min(50, Math.max(1, deadline - clock.now())), check);
    };
    check();
  });
}
