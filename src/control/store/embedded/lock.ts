// One process per data directory: two writers appending to one log would interleave records. The lock is a file
// holding the owner's PID, created exclusively; a lock left by a process that no longer exists (killed with -9)
// is taken over.

import fs from "node:fs/promises";
import path from "node:path";
import { StoreLockedError } from "../errors.ts";

const heldHere = new Set<string>();

export interface DirLock {
  release(): Promise<void>;
}

export async function lockDataDir(dir: string): Promise<DirLock> {
  const file = path.join(path.resolve(dir), "lock");
  if (heldHere.has(file)) throw new StoreLockedError(`${dir} is already open in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: "wx" });
      heldHere.add(file);
      return {
        release: async () => {
          heldHere.delete(file);
          await fs.rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number((await fs.readFile(file, "utf8").catch(() => "")).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner))
        throw new StoreLockedError(`${dir} is in use by process ${owner}`);
      await fs.rm(file, { force: true }); // stale: its owner is gone
    }
  }
  throw new StoreLockedError(`${dir}: could not take the lock`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
