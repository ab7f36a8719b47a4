// The resource store: its contract, the two implementations and the factory `trellis up` uses.

export type * from "./types.ts";
export * from "./errors.ts";
export { createStore, parseEtcdUrl } from "./create.ts";
export type { CreateStoreOptions } from "./create.ts";
export { EmbeddedStore } from "./embedded/store.ts";
export type { EmbeddedStoreOptions } from "./embedded/store.ts";
export { EtcdStore } from "./etcd/store.ts";
export type { EtcdStoreOptions } from "./etcd/store.ts";
