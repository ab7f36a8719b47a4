// What /config_dump shows of TLS configuration: private keys never, as Envoy's redaction of sensitive fields — a
// private_key's inline_string / inline_bytes (and the typed form's bytes) become "[redacted]"; a filename stays (it
// names where the key is, not the key). Certificate bytes held as Buffers are shown as their text (PEM).

const REDACTED = "[redacted]";
const SENSITIVE = new Set(["private_key", "privateKey", "password"]);
const KEPT = new Set(["filename", "path", "kind"]);

/** A deep copy of `value` with every private key redacted. */
export function redactSecrets<T>(value: T): T {
  return redact(value, false) as T;
}

function redact(value: unknown, sensitive: boolean): unknown {
  if (Buffer.isBuffer(value)) return sensitive ? REDACTED : value.toString("utf8");
  if (Array.isArray(value)) return value.map((v) => redact(v, sensitive));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const inner = sensitive || SENSITIVE.has(k);
      // Where a key is, and what kind of source it is, say nothing of the key.
      if (KEPT.has(k) && typeof v === "string") out[k] = v;
      else out[k] = redact(v, inner);
    }
    return out;
  }
  return sensitive && typeof value === "string" ? REDACTED : value;
}
