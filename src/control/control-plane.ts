// The control plane as one process (`trellis up`): the resource store and the registry are its inputs; every
// change rebuilds the world (services + Istio resources); the ADS server asks for each connected proxy's snapshot
// (translate(world, proxy), its outbound half shared between proxies: snapshot-cache.ts), debounces and pushes
// only what changed; the HTTP API serves users and workloads.

import type { Clock } from "../api/clock.ts";
import { systemClock } from "../api/clock.ts";
import type { Resource } from "../api/resources/types.ts";
import { analyze } from "./analyze/analyze.ts";
import { addProxyRoutes } from "./http/proxies-api.ts";
import { addRegistryRoutes } from "./http/registry-api.ts";
import type { SidecarProber } from "./registry/probe.ts";
import { addResourceRoutes } from "./http/resources-api.ts";
import { startApiServer, type ApiServer } from "./http/server.ts";
import { registeredServices } from "./registered-services.ts";
import { Registry } from "./registry/registry.ts";
import { INSTANCE_KIND, fromStored, toStored } from "./registry/persistence.ts";
import type { RegistryEvent } from "./registry/types.ts";
import { readStored, validateFiles } from "./resource-files.ts";
import { SnapshotCache } from "./snapshot-cache.ts";
import type { ResourceStore, StoredResource, Watch } from "./store/types.ts";
import { World } from "./translate/index.ts";
import { XdsServer } from "./xds/server.ts";
import type { ProxyStatus, Snapshot, SnapshotSource, XdsHooks, XdsNode } from "./xds/types.ts";
import { loadResources } from "../api/resources/load.ts";
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
}

export class ControlPlane implements SnapshotSource {
  readonly registry: Registry;
  private readonly store: ResourceStore;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  /** Stored resources by key, as the watch keeps them; typed ones cached by key and version. */
  private readonly stored = new Map<string, StoredResource>();
  private readonly typed = new Map<string, { version: string | undefined; resource: Resource | undefined }>();
  private world = new World({});
  /** Snapshots per proxy, sharing the outbound translation between proxies that see the mesh alike. */
  private readonly snapshots = new SnapshotCache();
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

  async start(): Promise<void> {
    await this.loadAndWatch();
    this.registry.onChange((event) => {
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
    addResourceRoutes(router, this.store, validateFiles);
    this.prober = addRegistryRoutes(router, this.registry, { clock: this.clock, log: this.log });
    addProxyRoutes(router, this.xds, this);
    router.add("GET", "/ready", () => ({ status: 200, text: "LIVE\n" }));
    router.add("POST", "/api/v1/analyze", (req) => this.analyzeRequest(req.body));
  }

  /**
   * Lists the store, then watches from the list's revision: every later change exactly once. Registry instances
   * (kind WorkloadInstance) go to the registry — written there by this replica or another, or before a restart.
   */
  private async loadAndWatch(): Promise<void> {
    const { resources, revision } = await this.store.listWithRevision();
    this.stored.clear();
    for (const r of resources) {
      if (r.kind === INSTANCE_KIND) this.adoptInstance(r);
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
    this.world = World.fromResources(resources, registeredServices(this.registry.list()));
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

  private analyzeRequest(body: string): { status: number; json: unknown } {
    let files: { name: string; content: string }[] = [];
    if (body.trim() !== "") {
      try {
        files = (JSON.parse(body) as { files?: { name: string; content: string }[] }).files ?? [];
      } catch (err) {
        return { status: 400, json: { errors: [`body: expected JSON (${(err as Error).message})`] } };
      }
    }
    const resources: Resource[] = [];
    const byKey = new Map<string, Resource>();
    for (const r of this.typed.values()) if (r.resource) byKey.set(resourceKey(r.resource), r.resource);
    try {
      for (const f of files) for (const r of loadResources(f.content, f.name).resources) byKey.set(resourceKey(r), r);
    } catch (err) {
      return { status: 400, json: { errors: [(err as Error).message] } };
    }
    resources.push(...byKey.values());
    const findings = analyze({ resources, services: this.world.services.map((s) => s.hostname) });
    return { status: 200, json: { findings } };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    this.registry.stop();
    this.prober?.stop();
    await this.api?.close();
    await this.xds?.stop(200);
  }
}

/** "Kind/namespace/name", for stored and typed resources alike. */
const keyOf = (r: StoredResource): string => keyString(storedKey(r));
