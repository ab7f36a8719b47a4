// envoy.extensions.transport_sockets.tls.v3.Secret: a named tls_certificate (certificate chain and private key) or
// validation_context (trusted CA, SAN matchers), from the bootstrap's static_resources.secrets or over SDS. The key
// is never quoted in a message.

import { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import {
  readTlsCertificate,
  readValidationContext,
  type TlsCertificate,
  type ValidationContext,
} from "./tls-context.ts";

export const SECRET_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

export type Secret =
  | { name: string; kind: "tls_certificate"; certificate: TlsCertificate }
  | { name: string; kind: "validation_context"; validation: ValidationContext };

const SECRET_SPEC = {
  handled: ["@type", "name", "tls_certificate", "validation_context"],
  unsupported: ["session_ticket_keys", "generic_secret"],
} as const;

/** A Secret at `path`, reporting into `ctx`. */
export function readSecret(ctx: ParseContext, raw: unknown, path: string): Secret {
  const secret = Fields.open(ctx, raw, path, SECRET_SPEC);
  const name = secret.requiredString("name");
  const kind = secret.broken ? undefined : secret.oneOf(["tls_certificate", "validation_context"], true);
  if (kind === "validation_context")
    return { name, kind, validation: readValidationContext(ctx, secret.raw(kind), secret.at(kind)) };
  if (kind === undefined)
    return { name, kind: "tls_certificate", certificate: { certificateChain: EMPTY, privateKey: EMPTY } };
  return { name, kind, certificate: readTlsCertificate(ctx, { value: secret.raw(kind), path: secret.at(kind) }) };
}

const EMPTY = { kind: "inline", bytes: Buffer.alloc(0) } as const;

/** Parses one Secret resource; throws ConfigError naming every problem (never its key material). */
export function parseSecret(raw: unknown, path?: string): Secret {
  const ctx = new ParseContext();
  const secret = readSecret(ctx, raw, path ?? "");
  ctx.throwIfFailed(path ?? (secret.name === "" ? "secret" : `secret ${secret.name}`));
  return secret;
}
