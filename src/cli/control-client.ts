// How CLI verbs reach the control plane's HTTP API: $TRELLIS_CONTROL, default http://127.0.0.1:15014. An
// unreachable control plane is a clear one-line error, not a stack trace.

import { TrellisError } from "../api/errors.ts";

export const DEFAULT_CONTROL_URL = "http://127.0.0.1:15014";

export class ControlUnreachableError extends TrellisError {
  constructor(url: string, cause: unknown) {
    const reason = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message;
    super(
      "TRELLIS_CONTROL_UNREACHABLE",
      `cannot reach the control plane at ${url} (${reason}); start it with \`trellis up\` or set TRELLIS_CONTROL`,
      { cause },
    );
  }
}

export interface ControlReply {
  status: number;
  json: Record<string, unknown>;
}

export function controlUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.TRELLIS_CONTROL ?? DEFAULT_CONTROL_URL).replace(/\/+$/, "");
}

export async function callControl(
  method: string,
  path: string,
  body?: unknown,
  base = controlUrl(),
): Promise<ControlReply> {
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ControlUnreachableError(base, err);
  }
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    json = { errors: [`the control plane answered ${res.status} with a body that is not JSON`] };
  }
  return { status: res.status, json };
}

/** Prints the reply's errors (one per line, prefixed by the verb) and returns 1, or returns 0 for a 2xx. */
export function reportErrors(verb: string, reply: ControlReply): number {
  if (reply.status >= 200 && reply.status < 300) return 0;
  const errors = Array.isArray(reply.json.errors) ? (reply.json.errors as unknown[]) : [`HTTP ${reply.status}`];
  for (const e of errors) process.stderr.write(`trellis ${verb}: ${String(e)}\n`);
  return 1;
}
