// The address API (`trellis run --transparent` asks it for its network namespace's address; registry/addresses.ts):
//   POST   /api/v1/addresses            {"nodeId": "…"} → the node's lease (new, or the same one renewed)
//   GET    /api/v1/addresses            the range, the gateway, the bridge and every lease
//   DELETE /api/v1/addresses/:address   releases it (404 when it is not leased)

import { AddressesExhaustedError, type AddressLease, type AddressPool } from "../registry/addresses.ts";
import type { ApiRouter } from "./router.ts";

const view = (lease: AddressLease): Record<string, unknown> => ({
  ...lease,
  lease: {
    ttlSeconds: lease.leaseMs / 1000,
    expiresAt: new Date(lease.renewedAt + lease.leaseMs).toISOString(),
    renew: "POST /api/v1/addresses with the same nodeId",
    renewEverySeconds: Math.max(1, Math.floor(lease.leaseMs / 3000)),
  },
});

export function addAddressRoutes(router: ApiRouter, pool: AddressPool): void {
  router
    .add("GET", "/api/v1/addresses", () => ({
      status: 200,
      json: {
        range: pool.range.cidr,
        gateway: pool.range.gateway,
        prefixLength: pool.range.prefixLength,
        leases: pool.list().map(view),
      },
    }))
    .add("POST", "/api/v1/addresses", (req) => {
      let raw: unknown;
      try {
        raw = JSON.parse(req.body);
      } catch (err) {
        return { status: 400, json: { errors: [`body: expected JSON (${(err as Error).message})`] } };
      }
      const nodeId = (raw as { nodeId?: unknown } | null)?.nodeId;
      if (typeof nodeId !== "string" || nodeId === "" || nodeId.length > 253)
        return { status: 400, json: { errors: ["nodeId: expected the sidecar's node id (a non-empty string)"] } };
      try {
        return { status: 200, json: view(pool.lease(nodeId)) };
      } catch (err) {
        if (err instanceof AddressesExhaustedError) return { status: 503, json: { errors: [err.message] } };
        throw err;
      }
    })
    .add("DELETE", "/api/v1/addresses/:address", (req) =>
      pool.release({ address: req.params.address! })
        ? { status: 200, json: { released: req.params.address } }
        : { status: 404, json: { errors: [`address ${req.params.address} is not leased`] } },
    );
}
