// The embedded store on disk: `snapshot` (one checksummed record: every resource at one revision) plus `log`
// (checksummed records appended after it, one per write, each fsynced before the write is acknowledged).
// Compaction writes a new snapshot beside the old one, fsyncs it, renames it into place and fsyncs the directory,
// then starts an empty log the same way; a crash between the two steps leaves log records the snapshot already
// holds, and replay skips every record at or below the snapshot's revision. So at every instant the directory
// holds every acknowledged write, and at most one torn record at the log's end, which replay drops.

import fs from "node:fs/promises";
import path from "node:path";
import { StoreCorruptError } from "../errors.ts";
import { keyString } from "../resource.ts";
import type { ResourceKey, StoredResource } from "../types.ts";
import { decodeRecords, encodeRecord } from "./record-log.ts";

export type LogOp = { op: "put"; resource: StoredResource } | { op: "delete"; key: ResourceKey };

/** One acknowledged write: every op in it took effect at `revision`. */
export interface LogEntry {
  revision: number;
  ops: LogOp[];
}

export interface LoadedState {
  revision: number;
  resources: Map<string, StoredResource>;
}

interface SnapshotFile {
  format: 1;
  revision: number;
  resources: StoredResource[];
}

const SNAPSHOT = "snapshot";
const LOG = "log";

export class DataDir {
  private log: fs.FileHandle;
  private logSize: number;
  private readonly dir: string;

  private constructor(dir: string, log: fs.FileHandle, logSize: number) {
    this.dir = dir;
    this.log = log;
    this.logSize = logSize;
  }

  /** Loads the snapshot and replays the log; drops a torn last record (it was never acknowledged). */
  static async open(dir: string): Promise<{ dataDir: DataDir; state: LoadedState }> {
    await fs.mkdir(dir, { recursive: true });
    const state = await readSnapshot(path.join(dir, SNAPSHOT));
    const logPath = path.join(dir, LOG);
    const data = await readIfExists(logPath);
    const decoded = decodeRecords(data ?? Buffer.alloc(0), logPath);
    let last = 0;
    for (const record of decoded.records) {
      const entry = parseJson<LogEntry>(record, logPath);
      if (!Number.isSafeInteger(entry.revision) || entry.revision <= last || !Array.isArray(entry.ops))
        throw new StoreCorruptError(`${logPath}: record at revision ${String(entry.revision)} is out of order`);
      last = entry.revision;
      if (entry.revision <= state.revision) continue; // already in the snapshot (crash during compaction)
      applyEntry(state, entry);
    }
    const log = await fs.open(logPath, "a+");
    if (decoded.tornTail) {
      await log.truncate(decoded.validLength);
      await log.sync();
    }
    if (data === undefined) await syncDir(dir);
    return { dataDir: new DataDir(dir, log, decoded.validLength), state };
  }

  get logBytes(): number {
    return this.logSize;
  }

  /** Resolves once the entry is on disk. On failure the log is cut back, so no torn record precedes later ones. */
  async append(entry: LogEntry): Promise<void> {
    const record = encodeRecord(Buffer.from(JSON.stringify(entry)));
    try {
      await this.log.write(record, 0, record.length, null);
      await this.log.datasync();
      this.logSize += record.length;
    } catch (error) {
      await this.log.truncate(this.logSize).catch(() => undefined);
      throw error;
    }
  }

  /** Replaces snapshot and log by one snapshot of `state`. */
  async compact(state: LoadedState): Promise<void> {
    const snapshot: SnapshotFile = { format: 1, revision: state.revision, resources: [...state.resources.values()] };
    await writeDurably(this.dir, SNAPSHOT, encodeRecord(Buffer.from(JSON.stringify(snapshot))));
    await writeDurably(this.dir, LOG, Buffer.alloc(0));
    await this.log.close();
    this.log = await fs.open(path.join(this.dir, LOG), "a+");
    this.logSize = 0;
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}

export function applyEntry(state: LoadedState, entry: LogEntry): void {
  for (const op of entry.ops) {
    if (op.op === "put")
      state.resources.set(
        keyString({
          kind: op.resource.kind,
          namespace: op.resource.metadata.namespace,
          name: op.resource.metadata.name,
        }),
        op.resource,
      );
    else state.resources.delete(keyString(op.key));
  }
  state.revision = entry.revision;
}

async function readSnapshot(file: string): Promise<LoadedState> {
  const data = await readIfExists(file);
  const state: LoadedState = { revision: 0, resources: new Map() };
  if (data === undefined) return state;
  const decoded = decodeRecords(data, file);
  // The snapshot is renamed into place only after it is whole on disk: anything short of one good record is damage.
  if (decoded.tornTail || decoded.records.length !== 1)
    throw new StoreCorruptError(`${file}: not one whole checksummed snapshot`);
  const snapshot = parseJson<SnapshotFile>(decoded.records[0]!, file);
  if (snapshot.format !== 1 || !Number.isSafeInteger(snapshot.revision) || !Array.isArray(snapshot.resources))
    throw new StoreCorruptError(`${file}: unknown snapshot format`);
  state.revision = snapshot.revision;
  for (const r of snapshot.resources)
    state.resources.set(keyString({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name }), r);
  return state;
}

/** Writes name.tmp, fsyncs it, renames it over name and fsyncs the directory, so name is old or new, never torn. */
async function writeDurably(dir: string, name: string, data: Buffer): Promise<void> {
  const tmp = path.join(dir, `${name}.tmp`);
  const handle = await fs.open(tmp, "w");
  try {
    await handle.write(data, 0, data.length, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path.join(dir, name));
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function parseJson<T>(payload: Buffer, file: string): T {
  try {
    return JSON.parse(payload.toString("utf8")) as T;
  } catch {
    // The checksum matched, so these are the bytes we wrote: this is not a torn write.
    throw new StoreCorruptError(`${file}: a checksummed record is not JSON`);
  }
}
