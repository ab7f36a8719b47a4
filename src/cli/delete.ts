// `trellis delete KIND NAME [-n NAMESPACE]`: removes one stored resource.

import { parseArgs } from "node:util";
import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { kindOf, knownKinds } from "./kinds.ts";

export async function runDelete(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { namespace: { type: "string", short: "n" } },
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`trellis delete: ${(err as Error).message}\n`);
    return 2;
  }
  const [typed, name] = parsed.positionals;
  const kind = typed === undefined ? undefined : kindOf(typed);
  if (kind === undefined || name === undefined) {
    process.stderr.write(`trellis delete: expected KIND NAME; kinds: ${knownKinds()}\n`);
    return 2;
  }
  const namespace = parsed.values.namespace ?? "default";
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
