// The registry's HTTP API: workloads register, renew their lease by heartbeat and deregister (what `trellis run`
// does for the process it starts); anyone can list the instances (`trellis get workloads`). A registration is
// refused with every problem and its field (an address nobody can call, an unnamed port that would split its
// service); an accepted one is answered with its lease (the TTL, when it runs out, how to renew) and its health
// (whether its sidecar's port accepts connections: registry/probe.ts).

import type { Clock } from "../../api/clock.ts";
import { SidecarProber } from "../registry/probe.ts";
import { readRegistration } from "../registry/registration.ts";
import type { Registry } from "../registry/registry.ts";
import type { Instance } from "../registry/types.ts";
import type { ApiRouter } from "./router.ts";

export interface RegistryApiOptions {
  clock: Clock;
  log?: (line: string) => void;
  /** How long a registration waits for its first probe before answering (its health is then "checking"). */
  probeWaitMs?: number;
}

/** Adds the routes; returns the prober, to be stopped with the API. */
export function addRegistryRoutes(router: ApiRouter, registry: Registry, options: RegistryApiOptions): SidecarProber {
  const prober = new SidecarProber(registry, { clock: options.clock, log: options.log });
  const probeWaitMs = options.probeWaitMs ?? 1500;

  const lease = (instance: Instance): Record<string, unknown> => {
    const expiresAt = registry.leaseExpiresAt(instance.id);
    const ttlSeconds = instance.leaseMs / 1000;
    return {
      ttlSeconds,
      expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt).toISOString(),
      renew: `PUT /api/v1/registry/instances/${encodeURIComponent(instance.id)}/heartbeat`,
      renewEverySeconds: Math.max(1, Math.floor(ttlSeconds / 3)),
      onExpiry:
        `without a heartbeat for ${ttlSeconds} s the instance is removed from the mesh (listed as expired); ` +
        `a heartbeat then answers 404: register again`,
    };
  };
  const view = (instance: Instance): Record<string, unknown> => ({
    ...instance,
    state: "active",
    health: prober.healthOf(instance.id),
    lease: lease(instance),
  });

  router
    .add("GET", "/api/v1/registry/instances", () => ({
      status: 200,
      json: {
        instances: registry.list().map(view),
        expired: registry.listExpired().map((e) => ({
          ...e.instance,
          state: "expired",
          expiredAt: new Date(e.expiredAt).toISOString(),
        })),
      },
    }))
    .add("POST", "/api/v1/registry/instances", async (req) => {
      let raw: unknown;
      try {
        raw = JSON.parse(req.body);
      } catch (err) {
        return { status: 400, json: { errors: [`body: expected JSON (${(err as Error).message})`] } };
      }
      const registration = readRegistration(raw, registry.list());
      if (!registration.ok) return { status: 400, json: { errors: registration.error } };
      const leaseMs = req.query.has("leaseSeconds") ? Number(req.query.get("leaseSeconds")) * 1000 : undefined;
      if (leaseMs !== undefined && !(leaseMs >= 1000 && leaseMs <= 3_600_000))
        return { status: 400, json: { errors: ["leaseSeconds: expected 1-3600"] } };
      const instance = registry.register(registration.value, leaseMs);
      // The first probe, if it is quick: the reply then says whether the sidecar's port accepts connections.
      const probe = prober.check(instance.id);
      await Promise.race([probe, new Promise((r) => setTimeout(r, probeWaitMs).unref())]);
      const health = prober.healthOf(instance.id);
      const warnings =
        health.status === "unreachable"
          ? [
              `registered, but nothing accepts connections at ${health.detail}; ` +
                `it is listed as unreachable until it does (probed again every few seconds)`,
            ]
          : [];
      return { status: 200, json: { ...view(instance), warnings } };
    })
    .add("PUT", "/api/v1/registry/instances/:id/heartbeat", (req) => {
      const instance = registry.heartbeat(req.params.id!);
      if (instance !== undefined) void prober.check(instance.id);
      // 404 tells the workload its lease ran out: it registers again (Eureka's answer too).
      if (instance === undefined) {
        const expired = registry.listExpired().find((e) => e.instance.id === req.params.id);
        const why =
          expired !== undefined
            ? `its lease expired at ${new Date(expired.expiredAt).toISOString()} (no heartbeat for ${expired.instance.leaseMs / 1000} s)`
            : "not registered (or its lease expired)";
        return {
          status: 404,
          json: { errors: [`instance ${req.params.id}: ${why}; register again with POST /api/v1/registry/instances`] },
        };
      }
      return { status: 200, json: view(instance) };
    })
    .add("DELETE", "/api/v1/registry/instances/:id", (req) =>
      registry.deregister(req.params.id!)
        ? { status: 200, json: { deleted: req.params.id } }
        : { status: 404, json: { errors: [`instance ${req.params.id}: not registered`] } },
    );
  return prober;
}
