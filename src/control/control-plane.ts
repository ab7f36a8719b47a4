// The control plane as one process (`trellis up`): the resource store and the registry are its inputs; every
// change rebuilds the world (services + Istio resources); the ADS server asks for each connected proxy's snapshot
// (translate(world, proxy), its outbound half shared between proxies: snapshot-cache.ts), debounces and pushes
// only what changed; the HTTP API serves users and workloads.

import type { Clock } from "../api/clock.ts";
import { systemClock } from "../api/clock.ts";
import type { Resource } from "../api/resources/types.ts";
import { analyze, placeFindings, sortFindings, type Workload } from "./analyze/analyze.ts";
import { loadForAnalysis } from "./analyze/files.ts";
import { addProxyRoutes } from "./http/proxies-api.ts";
import { addAddressRoutes } from "./http/addresses-api.ts";
import { addRegistryRoutes } from "./http/registry-api.ts";
import { ADDRESS_LEASE_KIND, AddressPool, leaseFromStored, leaseToStored } from "./registry/addresses.ts";
import { addSecretRoutes } from "./http/secrets-api.ts";
import { SECRET_KIND, secretSummary, secretView, type SecretView } from "./secrets.ts";
import type { SidecarProber } from "./registry/probe.ts";
import { addResourceRoutes } from "./http/resources-api.ts";
import { startApiServer, type ApiServer } from "./http/server.ts";
import { registeredServices } from "./registered-services.ts";
import { Registry } from "./registry/registry.ts";
import { INSTANCE_KIND, fromStored, toStored } from "./registry/persistence.ts";
import type { RegistryEvent } from "./registry/types.ts";
import { readStored, validateFiles } from "./resource-files.ts";
import { gatewayApiStatus } from "./gateway-api/status.ts";
import { GATEWAY_API_KINDS } from "../api/resources/types.ts";
import { SnapshotCache } from "./snapshot-cache.ts";
import { MeshConfigError } from "../api/resources/mesh-config.ts";
import {
  MeshConfigWatcher,
  defaultLoadedMeshConfig,
  meshConfigFindings,
  meshWorldInput,
  type LoadedMeshConfig,
  type MeshConfigFinding,
} from "./mesh-config.ts";
import type { ResourceStore, StoredResource, Watch } from "./store/types.ts";
import { proxyIdentityFromNode, World } from "./translate/index.ts";
import {
  problemFindings,
  reportProblems,
  representatives,
  statusOf,
  translateViews,
  type ProblemReport,
  type ProxyView,
  type ReportedProblem,
  type Translated,
} from "./problem-report.ts";
import type { ResourceRef } from "./translate/problems.ts";
import { XdsServer } from "./xds/server.ts";
import type { ProxyStatus, Snapshot, SnapshotSource, XdsHooks, XdsNode } from "./xds/types.ts";
import { resourceKey } from "../api/resources/serialize.ts";
import { keyOf as storedKey, keyString } from "./store/resource.ts";

export interface ControlPlaneOptions {
  store: ResourceStore;
  clock?: Clock;
  /** Address both servers bind (default 127.0.0.1; 0.0.0.0 to serve sidecars on other machines). */
  address?: string;
  xdsPort?: number;
  apiPort?: number;
  debounceMs?: number;
  /** Registry lease (default Eureka's 90 s). */
  leaseMs?: number;
  log?: (line: string) => void;
  /** The ADS server's hooks (ACKs, NACKs, pushes): for the dashboard, tests and the benchmark. */
  xdsHooks?: XdsHooks;
  /** Istio's MeshConfig, read at start and reloaded when it changes (`trellis up --mesh-config FILE`). */
  meshConfigFile?: string;
  /** Where `trellis run --transparent` namespaces get their addresses (default 10.250.0.0/16). */
  addressRange?: string;
}

export class ControlPlane implements SnapshotSource {
  readonly registry: Registry;
  /** Addresses of transparent runs' namespaces (registry/addresses.ts). */
  readonly addresses: AddressPool;
  private readonly store: ResourceStore;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  /** Stored resources by key, as the watch keeps them; typed ones cached by key and version. */
  private readonly stored = new Map<string, StoredResource>();
  private readonly typed = new Map<string, { version: string | undefined; resource: Resource | undefined }>();
  /** Stored TLS secrets ("namespace/name"): kept apart from the Istio resources, never shown but as summaries. */
  private readonly secrets = new Map<string, StoredResource>();
  private world = new World({});
  private mesh: LoadedMeshConfig = defaultLoadedMeshConfig();
  private meshWatcher: MeshConfigWatcher | undefined;
  /** Snapshots per proxy, sharing the outbound translation between proxies that see the mesh alike. */
  private readonly snapshots = new SnapshotCache((namespace, name) => this.secrets.get(`${namespace}/${name}`));
  private watch: Watch | undefined;
  private xds: XdsServer | undefined;
  private api: ApiServer | undefined;
  private prober: SidecarProber | undefined;
  private stopped = false;

  constructor(private readonly options: ControlPlaneOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? ((line) => process.stderr.write(line + "\n"));
    this.registry = new Registry({
      clock: this.clock,
      leaseMs: options.leaseMs,
      persist: (event) => this.persistInstance(event),
    });
    this.addresses = new AddressPool({
      clock: this.clock,
      ...(options.addressRange !== undefined ? { range: options.addressRange } : {}),
      ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
      log: this.log,
      persist: (event) => {
        const stored = leaseToStored(event.lease);
        const write =
          event.kind === "released"
            ? this.store.delete({
                kind: ADDRESS_LEASE_KIND,
                namespace: stored.metadata.namespace,
                name: stored.metadata.name,
              })
            : this.store.put(stored);
        write.catch((err: Error) =>
          this.log(`control plane: cannot store address ${event.lease.address}: ${err.message}`),
        );
      },
    });
  }

  get xdsPort(): number {
    return this.xds?.port ?? 0;
  }

  /** Every connected proxy's ADS status (as `trellis proxy-status` shows it). */
  proxies(): ProxyStatus[] {
    return this.xds?.proxies() ?? [];
  }

  get apiPort(): number {
    return this.api?.port ?? 0;
  }

  /** The MeshConfig in force (Istio's defaults without --mesh-config). */
  get meshConfig(): LoadedMeshConfig {
    return this.mesh;
  }

  /** The MeshConfig file's watcher (undefined without --mesh-config): its reload() re-reads the file now. */
  get meshConfigWatcher(): MeshConfigWatcher | undefined {
    return this.meshWatcher;
  }

  /** The MeshConfig's warnings and "stored, not enforced yet" fields, as findings (for analyze and the CLI). */
  meshConfigFindings(): MeshConfigFinding[] {
    return meshConfigFindings(this.mesh);
  }

  async start(): Promise<void> {
    if (this.options.meshConfigFile !== undefined) {
      this.meshWatcher = new MeshConfigWatcher({
        file: this.options.meshConfigFile,
        log: this.log,
        onChange: (loaded) => {
          this.mesh = loaded;
          if (!this.stopped) this.scheduleRebuild();
        },
      });
      // A file that does not validate stops the start, with every problem listed.
      this.mesh = await this.meshWatcher.start();
    }
    try {
      await this.startServing();
    } catch (err) {
      // The file watcher would keep a process that failed to start alive.
      this.meshWatcher?.close();
      throw err;
    }
  }

  private async startServing(): Promise<void> {
    await this.loadAndWatch();
    this.registry.onChange((event) => {
      // An instance's address lease lives as long as the instance: renewed with it, released with it.
      const nodeId = event.instance.nodeId;
      if (nodeId !== undefined) {
        if (event.kind === "removed")
          this.addresses.release({ nodeId }, `released (instance ${event.reason ?? "removed"})`);
        else this.addresses.renew(nodeId);
      }
      // A renewal changes nothing a proxy sees.
      if (event.kind !== "renewed") this.scheduleRebuild();
      // A lease that runs out is never silent: the workload stopped renewing (it died, or never heartbeats).
      if (event.kind === "removed" && event.reason === "lease expired")
        this.log(
          `registry: ${event.instance.id}: lease expired (no heartbeat for ${event.instance.leaseMs / 1000} s); ` +
            `removed from the mesh, listed as expired by \`trellis get workloads\` until it registers again`,
        );
    });
    this.registry.start();
    this.addresses.start();
    const address = this.options.address ?? "127.0.0.1";
    this.xds = new XdsServer({
      source: this,
      host: address,
      port: this.options.xdsPort,
      debounceMs: this.options.debounceMs,
      clock: this.clock,
      log: this.log,
      ...(this.options.xdsHooks !== undefined && { hooks: this.options.xdsHooks }),
    });
    await this.xds.start();
    this.api = await startApiServer(address, this.options.apiPort ?? 15014, this.log);
    const router = this.api.router;
    addSecretRoutes(router, this.store);
    addResourceRoutes(router, this.store, validateFiles, {
      hidden: {
        [SECRET_KIND]: "TLS secrets are shown by `trellis get secrets` (GET /api/v1/secrets), never their keys",
      },
      review: (resources) => this.reviewApply(resources),
      status: () => {
        const report = this.liveReport();
        let gatewayApi: Map<string, Record<string, unknown>> | undefined;
        return (ref: ResourceRef) => {
          const istio = statusOf(ref, report.problems);
          if (!GATEWAY_API_KINDS.some((k) => k === ref.kind)) return istio;
          // The Gateway API's conditions (docs/gateways.md), made once per request.
          gatewayApi ??= gatewayApiStatus([...this.currentResources().values()], this.world);
          const own = gatewayApi.get(`${ref.kind}/${ref.namespace}/${ref.name}`);
          return own === undefined && istio === undefined ? undefined : { ...own, ...istio };
        };
      },
    });
    this.prober = addRegistryRoutes(router, this.registry, { clock: this.clock, log: this.log });
    addAddressRoutes(router, this.addresses);
    addProxyRoutes(router, this.xds, this, () => this.liveReport().perProxy);
    router.add("GET", "/ready", () => ({ status: 200, text: "LIVE\n" }));
    router.add("POST", "/api/v1/analyze", (req) => this.analyzeRequest(req.body));
    router.add("GET", "/api/v1/problems", () => {
      const report = this.liveReport();
      return {
        status: 200,
        json: {
          problems: report.problems,
          proxies: report.proxies.map((v) => ({
            id: v.id,
            representative: v.representative,
            problems: report.perProxy.get(v.id)?.length ?? 0,
          })),
        },
      };
    });
    router.add("GET", "/api/v1/meshconfig", () => ({ status: 200, json: this.meshConfigView() }));
  }

  /**
   * Lists the store, then watches from the list's revision: every later change exactly once. Registry instances
   * (kind WorkloadInstance) go to the registry — written there by this replica or another, or before a restart.
   */
  private async loadAndWatch(): Promise<void> {
    const { resources, revision } = await this.store.listWithRevision();
    this.stored.clear();
    this.secrets.clear();
    for (const r of resources) {
      if (r.kind === INSTANCE_KIND) this.adoptInstance(r);
      else if (r.kind === ADDRESS_LEASE_KIND) this.adoptLease(r);
      else if (r.kind === SECRET_KIND) this.secrets.set(secretKey(r), r);
      else this.stored.set(keyOf(r), r);
    }
    this.rebuild();
    this.watch = this.store.watch(
      (event) => {
        if (event.resource.kind === INSTANCE_KIND) {
          if (event.type === "DELETED") {
            const instance = fromStored(event.resource);
            if (instance) this.registry.forget(instance.id);
          } else this.adoptInstance(event.resource);
          return;
        }
        if (event.resource.kind === ADDRESS_LEASE_KIND) {
          if (event.type === "DELETED") {
            const lease = leaseFromStored(event.resource);
            if (lease) this.addresses.forget(lease.address);
          } else this.adoptLease(event.resource);
          return;
        }
        if (event.resource.kind === SECRET_KIND) {
          if (event.type === "DELETED") this.secrets.delete(secretKey(event.resource));
          else this.secrets.set(secretKey(event.resource), event.resource);
          this.scheduleRebuild();
          return;
        }
        if (event.type === "DELETED") this.stored.delete(keyOf(event.resource));
        else this.stored.set(keyOf(event.resource), event.resource);
        this.scheduleRebuild();
      },
      {
        fromVersion: revision,
        onError: (err) => {
          if (this.stopped) return;
          this.log(`control plane: store watch ended (${err.message}); listing again`);
          void this.loadAndWatch();
        },
      },
    );
  }

  private adoptLease(stored: StoredResource): void {
    const lease = leaseFromStored(stored);
    if (lease !== undefined) this.addresses.adopt(lease);
  }

  private adoptInstance(stored: StoredResource): void {
    const instance = fromStored(stored);
    if (instance !== undefined) this.registry.adopt(instance);
  }

  /** Registry changes that must survive a restart (and reach other replicas) go to the store. */
  private persistInstance(event: RegistryEvent): void {
    const stored = toStored(event.instance);
    const write =
      event.kind === "removed"
        ? this.store.delete({ kind: INSTANCE_KIND, namespace: stored.metadata.namespace, name: stored.metadata.name })
        : this.store.put(stored);
    write.catch((err: Error) => this.log(`control plane: cannot store ${event.instance.id}: ${err.message}`));
  }

  private rebuildQueued = false;

  /** Coalesces the changes of one turn (an applyAll delivers its resources together) into one rebuild. */
  private scheduleRebuild(): void {
    if (this.rebuildQueued) return;
    this.rebuildQueued = true;
    queueMicrotask(() => {
      this.rebuildQueued = false;
      if (!this.stopped) this.rebuild();
    });
  }

  /** The world from the current resources and registry; proxies get it through the debounced push. */
  private rebuild(): void {
    const resources: Resource[] = [];
    for (const [key, stored] of this.stored) {
      const cached = this.typed.get(key);
      if (cached !== undefined && cached.version === stored.metadata.resourceVersion) {
        if (cached.resource) resources.push(cached.resource);
        continue;
      }
      const read = readStored(stored);
      if (read.problem !== undefined) this.log(`control plane: stored ${key} no longer validates: ${read.problem}`);
      this.typed.set(key, { version: stored.metadata.resourceVersion, resource: read.resource });
      if (read.resource) resources.push(read.resource);
    }
    for (const key of [...this.typed.keys()]) if (!this.stored.has(key)) this.typed.delete(key);
    this.world = this.worldOf(resources);
    this.snapshots.setWorld(this.world);
    this.xds?.refresh();
    // While the push is being debounced, translate what the connected proxies will ask for.
    setImmediate(() => {
      if (!this.stopped) this.snapshots.warm();
    });
  }

  snapshotFor(node: XdsNode): Snapshot {
    return this.snapshots.snapshotFor(node);
  }

  /** The world of these resources and the registry's services: the live one, and the candidates apply and analyze try. */
  private worldOf(resources: readonly Resource[]): World {
    const secrets = [...this.secrets.values()]
      .map((s) => secretView(s))
      .filter((v): v is SecretView => v !== undefined)
      .map(secretSummary);
    return World.fromResources(resources, registeredServices(this.registry.list()), {
      ...meshWorldInput(this.mesh),
      secrets,
    });
  }

  /** The problems of `resources` translated for the connected proxies and a representative per namespace. */
  private reportOf(resources: readonly Resource[], namespaces: Iterable<string>): ProblemReport {
    const world = this.worldOf(resources);
    const views = this.views(namespaces, world);
    const translated = translateViews(world, views);
    return reportProblems(resources, views, (v) => translated.get(v.id)!, world.rootNamespace);
  }

  /** The resources translation reads now (the typed cache of the store). */
  private currentResources(): Map<string, Resource> {
    const byKey = new Map<string, Resource>();
    for (const r of this.typed.values()) if (r.resource) byKey.set(resourceKey(r.resource), r.resource);
    return byKey;
  }

  /** What runs in the mesh, for analyze's selectors: the registry's instances and the connected proxies. */
  private workloads(): Workload[] {
    return [
      ...this.registry.list().map((i) => ({ namespace: i.namespace, labels: i.labels })),
      ...this.connectedViews().map((v) => ({ namespace: v.identity.namespace, labels: v.identity.labels })),
    ];
  }

  /** Each connected proxy as the report sees it, with the node it connected as. */
  private connectedViews(): ProxyView[] {
    return this.proxies().map((p) => ({
      id: p.nodeId,
      identity: proxyIdentityFromNode({ id: p.nodeId, metadata: p.metadata }),
      representative: false,
    }));
  }

  /** Connected proxies, and a representative sidecar for every namespace of `namespaces` that has none. */
  private views(namespaces: Iterable<string>, world: World): ProxyView[] {
    const connected = this.connectedViews();
    return [...connected, ...representatives(namespaces, connected, world.gateways)];
  }

  /**
   * What the running mesh's translation leaves out and what it stores without enforcing: connected proxies' from
   * the snapshot cache (the configuration they were sent), a representative sidecar's for every namespace with
   * resources or services and no connected proxy.
   */
  liveReport(): ProblemReport {
    // The same world and the same proxies give the same report: apply, get, proxy-status and analyze share it.
    const proxiesKey = JSON.stringify(this.proxies().map((p) => [p.nodeId, p.metadata]));
    const memo = this.reportMemo;
    if (memo !== undefined && memo.world === this.world && memo.proxiesKey === proxiesKey) return memo.report;
    const report = this.makeLiveReport();
    this.reportMemo = { world: this.world, proxiesKey, report };
    return report;
  }

  private reportMemo: { world: World; proxiesKey: string; report: ProblemReport } | undefined;

  private makeLiveReport(): ProblemReport {
    const resources = [...this.currentResources().values()];
    const namespaces = [...resources.map((r) => r.metadata.namespace), ...this.world.services.map((s) => s.namespace)];
    const views = this.views(namespaces, this.world);
    const cached = new Map<string, Translated>();
    const missing: ProxyView[] = [];
    for (const v of views) {
      const current = v.representative ? undefined : this.snapshots.current(v.id);
      if (current !== undefined) cached.set(v.id, current);
      else missing.push(v);
    }
    for (const [id, t] of translateViews(this.world, missing)) cached.set(id, t);
    return reportProblems(resources, views, (v) => cached.get(v.id)!, this.world.rootNamespace);
  }

  /**
   * The problems of the resources an apply stores (or would store, for a dry run), on the world they make: for the
   * connected proxies, and a representative sidecar for each namespace applied to that has none connected.
   */
  private reviewApply(stored: readonly StoredResource[]): ReportedProblem[] {
    const byKey = this.currentResources();
    const applied = new Set<string>();
    for (const s of stored) {
      const read = readStored(s);
      if (read.resource === undefined) continue;
      const key = resourceKey(read.resource);
      byKey.set(key, read.resource);
      applied.add(key);
    }
    const report = this.reportOf(
      [...byKey.values()],
      stored.map((s) => s.metadata.namespace),
    );
    return report.problems.filter(
      (p) => p.resource !== undefined && applied.has(`${p.resource.kind}/${p.resource.namespace}/${p.resource.name}`),
    );
  }

  private analyzeRequest(body: string): { status: number; json: unknown } {
    let files: { name: string; content: string }[] = [];
    if (body.trim() !== "") {
      try {
        files = (JSON.parse(body) as { files?: { name: string; content: string }[] }).files ?? [];
      } catch (err) {
        return { status: 400, json: { errors: [`body: expected JSON (${(err as Error).message})`] } };
      }
    }
    if (!Array.isArray(files) || !files.every((f) => typeof f?.name === "string" && typeof f?.content === "string"))
      return { status: 400, json: { errors: ["files: expected a list of {name, content} strings"] } };
    // Files as `analyze -f` reads them (one bad document is a finding, Kubernetes Services are hosts); a file's
    // resource stands in for the stored one of the same name.
    const loaded = loadForAnalysis(files);
    const byKey = this.currentResources();
    for (const r of loaded.resources) byKey.set(resourceKey(r), r);
    const resources = [...byKey.values()];
    const findings = analyze({
      resources,
      services: [...this.world.services, ...loaded.services],
      origins: loaded.origins,
      extraFindings: loaded.findings,
      workloads: this.workloads(),
    });
    // What translation leaves out and what is not enforced: of the running mesh, or of the mesh with the files in.
    const report =
      files.length === 0
        ? this.liveReport()
        : this.reportOf(resources, [
            ...resources.map((r) => r.metadata.namespace),
            ...this.world.services.map((s) => s.namespace),
          ]);
    findings.push(...placeFindings(problemFindings(report.problems, findings), loaded.origins));
    // The MeshConfig's own warnings and fields stored but not enforced yet (each names its file and line).
    findings.push(...this.meshConfigFindings());
    return { status: 200, json: { findings: sortFindings(findings), notices: loaded.notices } };
  }

  /** What GET /api/v1/meshconfig answers: the MeshConfig in force, where from, and what of it is not enforced. */
  private meshConfigView(): Record<string, unknown> {
    const refused = this.meshWatcher?.refused;
    return {
      file: this.mesh.file ?? null,
      meshConfig: this.mesh.config,
      findings: this.meshConfigFindings(),
      ...(refused !== undefined
        ? {
            refused: {
              message: refused.message,
              ...(refused instanceof MeshConfigError ? { problems: refused.problems } : {}),
            },
          }
        : {}),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.meshWatcher?.close();
    this.watch?.close();
    this.registry.stop();
    this.addresses.stop();
    this.prober?.stop();
    await this.api?.close();
    await this.xds?.stop(200);
  }
}

/** "namespace/name" of a stored secret. */
const secretKey = (r: StoredResource): string => `${r.metadata.namespace}/${r.metadata.name}`;

/** "Kind/namespace/name", for stored and typed resources alike. */
const keyOf = (r: StoredResource): string => keyString(storedKey(r));
