// `trellis up --store URL --data-dir DIR` → a ResourceStore: etcd://host:port[,host:port…] for etcd; no URL for
// the embedded store (persisted under DIR when given, memory only otherwise).

import type { Clock } from "../../api/clock.ts";
import { StoreUrlError } from "./errors.ts";
import { EmbeddedStore } from "./embedded/store.ts";
import { EtcdStore } from "./etcd/store.ts";
import type { ResourceStore } from "./types.ts";

export interface CreateStoreOptions {
  clock?: Clock;
  /** etcd key prefix (default /trellis/resources/). */
  etcdPrefix?: string;
}

export async function createStore(
  url: string | undefined,
  dataDir: string | undefined,
  options: CreateStoreOptions = {},
): Promise<ResourceStore> {
  if (url === undefined || url === "" || url === "embedded")
    return EmbeddedStore.open({ dataDir, ...(options.clock && { clock: options.clock }) });
  const hosts = parseEtcdUrl(url);
  return EtcdStore.open({
    hosts,
    ...(options.clock && { clock: options.clock }),
    ...(options.etcdPrefix !== undefined && { prefix: options.etcdPrefix }),
  });
}

/** "etcd://h1:2379,h2:2379" → ["h1:2379", "h2:2379"]; anything else is a StoreUrlError saying what was expected. */
export function parseEtcdUrl(url: string): string[] {
  const expected = "expected etcd://HOST:PORT[,HOST:PORT…] (or no --store for the embedded store)";
  const match = /^etcd:\/\/([^/?#]*)\/?$/.exec(url);
  if (!match) throw new StoreUrlError(`--store ${JSON.stringify(url)}: ${expected}`);
  const hosts = match[1]!.split(",").map((h) => h.trim());
  for (const host of hosts) {
    const hostPort = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):([0-9]{1,5})$/.exec(host);
    const port = hostPort ? Number(hostPort[2]) : 0;
    if (!hostPort || port < 1 || port > 65535)
      throw new StoreUrlError(
        `--store ${JSON.stringify(url)}: member ${JSON.stringify(host)} is not HOST:PORT; ${expected}`,
      );
  }
  return hosts;
}
