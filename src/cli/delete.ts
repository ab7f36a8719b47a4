// `trellis delete KIND NAME [-n NAMESPACE]` removes one stored resource; `trellis delete -f FILE|DIR|-` removes
// every resource the files name (kind, metadata.name, metadata.namespace; the rest of each document is not read,
// so a file that no longer validates can still be deleted), as kubectl does. A resource that is not there is
// reported and the others are still deleted (exit 1 at the end), or passed over with --ignore-not-found.

import { parseAllDocuments } from "yaml";
import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { readInputs, type NamedText } from "./files.ts";
import { displayKind, kindOf, kindOfDocument, knownKinds } from "./kinds.ts";
import { isSecrets, runDeleteSecret } from "./secret.ts";

/** The options main.ts's commander parses for this verb. */
export interface DeleteOptions {
  namespace?: string;
  filename?: string[];
  ignoreNotFound?: boolean;
}

interface Target {
  kind: string;
  namespace: string;
  name: string;
}

export async function runDelete(
  typed: string | undefined,
  name: string | undefined,
  options: DeleteOptions,
): Promise<number> {
  const files = options.filename ?? [];
  if (files.length > 0 && typed !== undefined) {
    process.stderr.write("trellis delete: give either KIND NAME or -f FILE, not both\n");
    return 2;
  }
  let targets: Target[];
  let status = 0;
  if (files.length > 0) {
    let texts: NamedText[];
    try {
      texts = files.flatMap((f) => readInputs(f));
    } catch (err) {
      process.stderr.write(`trellis delete: ${(err as Error).message}\n`);
      return 1;
    }
    const named = targetsOf(texts, options.namespace ?? "default");
    for (const problem of named.problems) process.stderr.write(`trellis delete: ${problem}\n`);
    if (named.problems.length > 0) status = 1;
    targets = named.targets;
  } else {
    if (typed !== undefined && name !== undefined && isSecrets(typed))
      return runDeleteSecret(name, options.namespace ?? "default");
    const kind = typed === undefined ? undefined : kindOf(typed);
    if (kind === undefined || name === undefined) {
      process.stderr.write(`trellis delete: expected KIND NAME or -f FILE; kinds: ${knownKinds()}\n`);
      return 2;
    }
    targets = [{ kind, namespace: options.namespace ?? "default", name }];
  }
  try {
    for (const t of targets) {
      const reply = await callControl(
        "DELETE",
        `/api/v1/resources/${t.kind}/${encodeURIComponent(t.namespace)}/${encodeURIComponent(t.name)}`,
      );
      if (reply.status === 404 && files.length > 0) {
        if (!options.ignoreNotFound) {
          process.stderr.write(`trellis delete: ${displayKind(t.kind)}/${t.name} (${t.namespace}) not found\n`);
          status = 1;
        }
        continue;
      }
      if (reportErrors("delete", reply) !== 0) {
        status = 1;
        continue;
      }
      process.stdout.write(`${displayKind(t.kind)}/${t.name} (${t.namespace}) deleted\n`);
    }
    return status;
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis delete: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** The resources the files name, each once; documents of other kinds (Kubernetes objects) are skipped, noted. */
function targetsOf(texts: NamedText[], defaultNamespace: string): { targets: Target[]; problems: string[] } {
  const targets = new Map<string, Target>();
  const problems: string[] = [];
  for (const file of texts) {
    parseAllDocuments(file.content).forEach((doc, i) => {
      const where = `${file.name}: document ${i + 1}`;
      if (doc.errors.length > 0) {
        problems.push(`${where}: not YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
        return;
      }
      const value = doc.toJS() as unknown;
      if (value === null || value === undefined) return;
      const v = value as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
      const kind = typeof v.kind === "string" ? kindOfDocument(v.kind, v.apiVersion) : undefined;
      if (kind === undefined) {
        process.stderr.write(`trellis delete: ${where}: kind ${JSON.stringify(v.kind)} is not stored here; skipped\n`);
        return;
      }
      const name = v.metadata?.name;
      if (typeof name !== "string" || name === "") {
        problems.push(`${where}: metadata.name: expected the name of the ${kind} to delete`);
        return;
      }
      const namespace = typeof v.metadata?.namespace === "string" ? v.metadata.namespace : defaultNamespace;
      targets.set(`${kind}/${namespace}/${name}`, { kind, namespace, name });
    });
  }
  return { targets: [...targets.values()], problems };
}
