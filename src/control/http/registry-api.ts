// The registry's HTTP API: workloads register, renew their lease by heartbeat and deregister (what `trellis run`
// does for the process it starts); anyone can list the instances.

import { readRegistration } from "../registry/registration.ts";
import type { Registry } from "../registry/registry.ts";
import type { ApiRouter } from "./router.ts";

export function addRegistryRoutes(router: ApiRouter, registry: Registry): void {
  router
    .add("GET", "/api/v1/registry/instances", () => ({ status: 200, json: { instances: registry.list() } }))
    .add("POST", "/api/v1/registry/instances", (req) => {
      let raw: unknown;
      try {
        raw = JSON.parse(req.body);
      } catch (err) {
        return { status: 400, json: { errors: [`body: expected JSON (${(err as Error).message})`] } };
      }
      const registration = readRegistration(raw);
      if (!registration.ok) return { status: 400, json: { errors: registration.error } };
      const leaseMs = req.query.has("leaseSeconds") ? Number(req.query.get("leaseSeconds")) * 1000 : undefined;
      if (leaseMs !== undefined && !(leaseMs >= 1000 && leaseMs <= 3_600_000))
        return { status: 400, json: { errors: ["leaseSeconds: expected 1-3600"] } };
      return { status: 200, json: registry.register(registration.value, leaseMs) };
    })
    .add("PUT", "/api/v1/registry/instances/:id/heartbeat", (req) => {
      const instance = registry.heartbeat(req.params.id!);
      // 404 tells the workload its lease ran out: it registers again (Eureka's answer too).
      if (instance === undefined)
        return { status: 404, json: { errors: [`instance ${req.params.id}: not registered (lease expired?)`] } };
      return { status: 200, json: instance };
    })
    .add("DELETE", "/api/v1/registry/instances/:id", (req) =>
      registry.deregister(req.params.id!)
        ? { status: 200, json: { deleted: req.params.id } }
        : { status: 404, json: { errors: [`instance ${req.params.id}: not registered`] } },
    );
}
