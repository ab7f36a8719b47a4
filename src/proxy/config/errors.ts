// Why an xDS update was refused. Every problem of every resource of the response is listed (the resource, the field
// path, what was expected), so one NACK tells the control plane everything; nothing of the update was applied.

import { TrellisError } from "../../api/errors.ts";

export class XdsUpdateRejected extends TrellisError {
  constructor(
    readonly typeUrl: string,
    readonly problems: readonly string[],
  ) {
    super("TRELLIS_XDS_REJECTED", problems.join("\n"));
  }
}

/** The text of a thrown value, for a problem list (ConfigError's message already names resource and fields). */
export function problemOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
