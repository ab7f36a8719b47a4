// The proxy's secrets by name: the bootstrap's static_resources.secrets and those delivered by SDS over ADS. A
// secret's version goes up each time SDS delivers a different one; TLS contexts built from it compare versions and
// rebuild for the next handshake, so a rotation reaches new connections and leaves open ones alone.
//
// A secret is checked before it is taken (checkSecret): its PEM parses, its key matches its certificate. A bad one
// is refused with its name and what is wrong (never its key material), and the last good one stays.

import { readFileSync } from "node:fs";
import crypto from "node:crypto";
import tls from "node:tls";
import { TrellisError } from "../../api/errors.ts";
import type { Secret } from "../../api/xds/types.ts";
import type { DataSource } from "../../api/xds/parse/tls-context.ts";

/** A data source, a certificate or a secret that cannot be used. The message never holds key material. */
export class TlsConfigError extends TrellisError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TRELLIS_TLS_CONFIG", message, options);
  }
}

export interface HeldSecret {
  secret: Secret;
  /** Goes up with each change. */
  version: number;
  source: "static" | "ads";
  /** JSON of the resource as received: a delivery of the same secret changes nothing. */
  fingerprint: string;
}

export class SecretStore {
  private readonly held = new Map<string, HeldSecret>();
  private nextVersion = 1;
  private readonly watchers = new Set<() => void>();

  get(name: string, source: "static" | "ads"): HeldSecret | undefined {
    return this.held.get(`${source}/${name}`);
  }

  /** Takes `secret` (already checked) under its name; unchanged ones (same fingerprint) keep their version. */
  set(secret: Secret, source: "static" | "ads", fingerprint: string): boolean {
    const key = `${source}/${secret.name}`;
    if (this.held.get(key)?.fingerprint === fingerprint) return false;
    this.held.set(key, { secret, version: this.nextVersion++, source, fingerprint });
    for (const w of [...this.watchers]) w();
    return true;
  }

  delete(name: string, source: "static" | "ads"): void {
    this.held.delete(`${source}/${name}`);
  }

  names(source: "static" | "ads"): string[] {
    return [...this.held.values()].filter((h) => h.source === source).map((h) => h.secret.name);
  }

  onChange(cb: () => void): () => void {
    this.watchers.add(cb);
    return () => void this.watchers.delete(cb);
  }
}

/** The bytes of a data source; a file is read now. `what` names it in errors ("secret x private_key"). */
export function loadDataSource(source: DataSource, what: string): Buffer {
  if (source.kind === "inline") return source.bytes;
  try {
    return readFileSync(source.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new TlsConfigError(`${what}: cannot read ${source.path}: ${code}`, { cause: err });
  }
}

/** Every certificate of a PEM bundle, parsed; throws when there is none or one does not parse. */
export function parseCertificates(pem: Buffer, what: string): crypto.X509Certificate[] {
  const blocks = pem.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (blocks === null) throw new TlsConfigError(`${what}: expected PEM certificates, found none`);
  return blocks.map((b, i) => {
    try {
      return new crypto.X509Certificate(b);
    } catch {
      throw new TlsConfigError(`${what}: certificate ${i + 1} of the PEM bundle does not parse`);
    }
  });
}

/**
 * Checks a certificate and key pair: the chain parses and the key is the leaf's. OpenSSL's reason is kept (it names
 * no key bytes); the key itself is never quoted.
 */
export function checkKeyPair(chain: Buffer, key: Buffer, what: string): void {
  const [leaf] = parseCertificates(chain, `${what} certificate_chain`);
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(key);
  } catch {
    throw new TlsConfigError(`${what} private_key: expected an unencrypted PEM or DER private key; it does not parse`);
  }
  if (!leaf!.checkPrivateKey(privateKey))
    throw new TlsConfigError(
      `${what}: the private key does not match the certificate (${leaf!.subject.replace(/\n/g, ", ")})`,
    );
}

/** A secret checked as a whole: what checkKeyPair checks, or that a validation context's CA bundle parses. */
export function checkSecret(secret: Secret): void {
  const what = `secret ${secret.name}`;
  if (secret.kind === "tls_certificate") {
    const chain = loadDataSource(secret.certificate.certificateChain, `${what} certificate_chain`);
    const key = loadDataSource(secret.certificate.privateKey, `${what} private_key`);
    checkKeyPair(chain, key, what);
    return;
  }
  if (secret.validation.trustedCa !== undefined)
    parseCertificates(loadDataSource(secret.validation.trustedCa, `${what} trusted_ca`), `${what} trusted_ca`);
}

/** tls.createSecureContext, its OpenSSL error turned into a TlsConfigError naming `what`. */
export function secureContext(options: tls.SecureContextOptions, what: string): tls.SecureContext {
  try {
    return tls.createSecureContext(options);
  } catch (err) {
    const reason = (err as Error).message.replace(/^error:[0-9A-F]+:/, "");
    throw new TlsConfigError(`${what}: ${reason}`, { cause: err });
  }
}
