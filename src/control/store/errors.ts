// The store's errors, each with a stable code callers (the HTTP API, the CLI) match on.

import { TrellisError } from "../../api/errors.ts";
import type { ResourceKey } from "./types.ts";

function describe(key: ResourceKey): string {
  return `${key.kind} ${key.namespace}/${key.name}`;
}

/** A conditional write whose expectedVersion did not match what is stored. */
export class ConflictError extends TrellisError {
  readonly key: ResourceKey;
  readonly expectedVersion: string;
  readonly actualVersion: string | undefined;
  constructor(key: ResourceKey, expectedVersion: string, actualVersion: string | undefined) {
    super(
      "TRELLIS_STORE_CONFLICT",
      `${describe(key)}: expected version ${expectedVersion}, but it is ${actualVersion ?? "absent"}`,
    );
    this.key = key;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** A resource the store cannot hold: a missing or malformed kind, namespace or name, or a spec that is not JSON. */
export class InvalidResourceError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_STORE_INVALID", message);
  }
}

/** The backing store did not answer (etcd without quorum, no member reachable). The write may not have happened. */
export class StoreUnavailableError extends TrellisError {
  constructor(message: string, cause?: unknown) {
    super("TRELLIS_STORE_UNAVAILABLE", message, { cause });
  }
}

/** The data directory holds something that is neither a valid record nor a torn last write: refuse to guess. */
export class StoreCorruptError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_STORE_CORRUPT", message);
  }
}

/** Another process holds the data directory. */
export class StoreLockedError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_STORE_LOCKED", message);
  }
}

/** A watch asked for history the store no longer has: list again and watch from the list's revision. */
export class CompactedError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_STORE_COMPACTED", message);
  }
}

/** `--store` named something other than etcd://host:port,... */
export class StoreUrlError extends TrellisError {
  constructor(message: string) {
    super("TRELLIS_STORE_URL", message);
  }
}

/** The store was used after close(). */
export class StoreClosedError extends TrellisError {
  constructor() {
    super("TRELLIS_STORE_CLOSED", "the resource store is closed");
  }
}
