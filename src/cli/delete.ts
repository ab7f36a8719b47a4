// `trellis delete KIND NAME [-n NAMESPACE]`: removes one stored resource.

import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { kindOf, knownKinds } from "./kinds.ts";

/** The options main.ts's commander parses for this verb. */
export interface DeleteOptions {
  namespace?: string;
}

export async function runDelete(typed: string, name: string, options: DeleteOptions): Promise<number> {
  const kind = kindOf(typed);
  if (kind === undefined) {
    process.stderr.write(`trellis delete: expected KIND NAME; kinds: ${knownKinds()}\n`);
    return 2;
  }
  const namespace = options.namespace ?? "default";
  try {
    const reply = await callControl("DELETE", `/api/v1/resources/${kind}/${namespace}/${encodeURIComponent(name)}`);
    if (reportErrors("delete", reply) !== 0) return 1;
    process.stdout.write(`${kind.toLowerCase()}/${name} (${namespace}) deleted\n`);
    return 0;
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis delete: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
