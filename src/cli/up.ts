// `trellis up [--store etcd://h1:2379,…] [--data-dir DIR] [--mesh-config FILE] [--address A] [--xds-port P]
// [--api-port P] [--address-range CIDR]`: the control plane — ADS for sidecars on 15010, the HTTP API on 15014 — on the embedded store
// (persisted under --data-dir, default ~/.trellis/data) or on etcd, shared by any number of replicas. --mesh-config
// is Istio's MeshConfig (docs/mesh-config.md), reloaded when the file changes. --address-range is where
// `trellis run --transparent` namespaces get their addresses (control/registry/addresses.ts).

import { homedir } from "node:os";
import { join } from "node:path";
import { TrellisError } from "../api/errors.ts";
import { ControlPlane } from "../control/control-plane.ts";
import { parseAddressRange } from "../control/registry/addresses.ts";
import { createStore } from "../control/store/create.ts";
import type { ResourceStore } from "../control/store/types.ts";

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new TrellisError("TRELLIS_USAGE", `${flag}: expected a port, got "${value}"`);
  return n;
}

/** The options main.ts's commander parses for this verb. */
export interface UpOptions {
  store?: string;
  dataDir?: string;
  address?: string;
  xdsPort?: string;
  apiPort?: string;
  meshConfig?: string;
  addressRange?: string;
}

export async function runUp(values: UpOptions): Promise<number> {
  let store: ResourceStore | undefined;
  let cp: ControlPlane;
  try {
    const xdsPort = port(values.xdsPort, 15010, "--xds-port");
    const apiPort = port(values.apiPort, 15014, "--api-port");
    const etcd = values.store !== undefined && values.store !== "embedded";
    const dataDir = etcd ? undefined : (values.dataDir ?? join(homedir(), ".trellis", "data"));
    store = await createStore(values.store, dataDir);
    const meshConfigFile = values.meshConfig;
    // A bad --address-range stops the start before anything listens.
    if (values.addressRange !== undefined) parseAddressRange(values.addressRange);
    cp = new ControlPlane({
      store,
      address: values.address ?? "127.0.0.1",
      xdsPort,
      apiPort,
      ...(meshConfigFile !== undefined ? { meshConfigFile } : {}),
      ...(values.addressRange !== undefined ? { addressRange: values.addressRange } : {}),
    });
    await cp.start();
    process.stderr.write(
      `trellis up: live (xds=${values.address ?? "127.0.0.1"}:${cp.xdsPort} api=http://${values.address ?? "127.0.0.1"}:${cp.apiPort}` +
        ` store=${etcd ? values.store : `embedded ${dataDir}`})\n`,
    );
  } catch (err) {
    await store?.close().catch(() => {});
    if (err instanceof TrellisError || (err as NodeJS.ErrnoException).code !== undefined) {
      process.stderr.write(`trellis up: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`trellis up: ${signal}: stopping\n`);
      void cp
        .stop()
        .then(() => store!.close())
        .then(() => resolve(0));
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
