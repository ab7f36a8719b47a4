// From what users apply to what the store keeps, and back: files are read and validated with the resources'
// loader (every problem of every file at once); a valid resource is stored in Istio's spelling (today's names,
// deprecated spellings already normalised) so the store holds what a user would write; reading one back for
// translation goes through the same loader.

import { ConfigError, TrellisError } from "../api/errors.ts";
import { loadResources, validateResources } from "../api/resources/load.ts";
import { resourceKey, toIstioObject } from "../api/resources/serialize.ts";
import type { Resource, ResourceWarning } from "../api/resources/types.ts";
import type { NamedFile } from "./http/resources-api.ts";
import type { StoredResource } from "./store/types.ts";

export interface ValidatedFiles {
  resources: StoredResource[];
  warnings: string[];
}

export function formatWarning(w: ResourceWarning): string {
  const where = `${w.file}${w.line === undefined ? "" : `:${w.line}`}: document ${w.document}${w.resource ? ` (${w.resource})` : ""}`;
  return `${where}: ${w.path ? `${w.path}: ` : ""}${w.message}`;
}

/** Validates every file; throws one ConfigError naming every problem of every file; nothing half-read. */
export function validateFiles(files: readonly NamedFile[]): ValidatedFiles {
  const resources: StoredResource[] = [];
  const warnings: string[] = [];
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    try {
      const loaded = loadResources(file.content, file.name);
      warnings.push(...loaded.warnings.map(formatWarning));
      for (const r of loaded.resources) {
        const key = resourceKey(r);
        const first = seen.get(key);
        if (first !== undefined) problems.push(`${file.name}: ${key} is also defined in ${first}`);
        seen.set(key, file.name);
        resources.push(toIstioObject(r) as unknown as StoredResource);
      }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.issues.map((i) => `${err.source}: ${i.path ? `${i.path}: ` : ""}${i.message}`));
    }
  }
  if (problems.length > 0) throw new ApplyRejectedError(problems);
  return { resources, warnings };
}

/** An apply refused as a whole: every problem of every file, one line each (file, document, field, expectation). */
export class ApplyRejectedError extends TrellisError {
  constructor(readonly problems: readonly string[]) {
    super("TRELLIS_APPLY_REJECTED", `nothing was applied:\n${problems.join("\n")}`);
  }
}

/** A stored resource read back as a typed one (undefined, with the reason, if it no longer validates). */
export function readStored(stored: StoredResource): { resource?: Resource; problem?: string } {
  try {
    // Already data: validated as it is, not written out as text and parsed again.
    const { resources } = validateResources(
      [stored],
      `${stored.kind}/${stored.metadata.namespace}/${stored.metadata.name}`,
    );
    return { resource: resources[0] };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}
