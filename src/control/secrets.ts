// TLS secrets for gateways (`trellis create secret tls NAME --cert F --key F`; docs/gateways.md): stored in the
// resource store in the shape of Kubernetes' `kubernetes.io/tls` Secret (kind Secret, apiVersion v1, the type and
// base64 `data` under `spec`), checked before they are stored (both PEMs parse, the key is the certificate's, the
// validity period said), summarised for everyone (name, type, SANs, expiry; never the key), and sent only over
// ADS as Envoy's SDS Secret (`kubernetes://NAME`, as Istio names a credentialName) to the gateways whose
// listeners name it. The generic resources API never shows a stored Secret (resources-api.ts hides the kind).

import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { TrellisError } from "../api/errors.ts";
import type { Json } from "./translate/envoy.ts";
import type { SecretSummary } from "./translate/world-index.ts";
import type { StoredResource } from "./store/types.ts";

export const SECRET_KIND = "Secret";
export const TLS_SECRET_TYPE = "kubernetes.io/tls";
/** Envoy's SDS resource type (the proxy's parser defines it). */
export { SECRET_TYPE_URL } from "../api/xds/parse/secret.ts";
/** What a DownstreamTlsContext names for a credentialName (Istio's spelling). */
export const SDS_PREFIX = "kubernetes://";

/** A secret that cannot be stored: every problem, each naming the file and what was expected. */
export class SecretError extends TrellisError {
  constructor(readonly problems: readonly string[]) {
    super("TRELLIS_SECRET_INVALID", problems.join("; "));
  }
}

/** What anyone may see of a stored secret: never the key. */
export interface SecretView {
  namespace: string;
  name: string;
  type: string;
  /** DNS and IP SANs of the certificate (the first of the chain). */
  hosts: string[];
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  expired: boolean;
  /** SHA-256 of the certificate (DER), hex: tells two certificates apart without showing them. */
  fingerprint: string;
  /** Certificates in the chain. */
  chain: number;
  /** CA certificates stored as `ca.crt` (what a MUTUAL server checks client certificates against); 0: none. */
  caCertificates: number;
  /** The stored resource's version. */
  resourceVersion?: string;
}

interface TlsSpec {
  type: string;
  data: { "tls.crt": string; "tls.key": string; "ca.crt"?: string };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Checks a certificate chain and key as `create secret tls` reads them: `certName`/`keyName` name them in messages.
 * Returns the summary and warnings (expired, not yet valid); throws SecretError with every problem.
 */
export function checkTlsPair(
  cert: string,
  key: string,
  where: { certName: string; keyName: string; caName?: string },
  now = new Date(),
  ca?: string,
): { chain: X509Certificate[]; warnings: string[] } {
  const problems: string[] = [];
  if (ca !== undefined) {
    const caBlocks = ca.match(PEM_CERT) ?? [];
    if (caBlocks.length === 0)
      problems.push(
        `${where.caName ?? "ca.crt"}: expected PEM CA certificates (-----BEGIN CERTIFICATE-----), found none`,
      );
    caBlocks.forEach((block, i) => {
      try {
        new X509Certificate(block);
      } catch (err) {
        problems.push(`${where.caName ?? "ca.crt"}: certificate ${i + 1} does not parse: ${(err as Error).message}`);
      }
    });
  }
  const blocks = cert.match(PEM_CERT) ?? [];
  const chain: X509Certificate[] = [];
  if (blocks.length === 0)
    problems.push(`${where.certName}: expected a PEM certificate (-----BEGIN CERTIFICATE-----), found none`);
  blocks.forEach((block, i) => {
    try {
      chain.push(new X509Certificate(block));
    } catch (err) {
      problems.push(`${where.certName}: certificate ${i + 1} does not parse: ${(err as Error).message}`);
    }
  });
  let privateKey: KeyObject | undefined;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    problems.push(`${where.keyName}: expected a PEM private key (PKCS#8, PKCS#1 or SEC1): ${(err as Error).message}`);
  }
  const leaf = chain[0];
  if (leaf !== undefined && privateKey !== undefined && problems.length === 0 && !leaf.checkPrivateKey(privateKey))
    problems.push(
      `${where.keyName}: the key is not the private key of the certificate in ${where.certName} (${leaf.subject.replace(/\n/g, ", ")})`,
    );
  if (problems.length > 0) throw new SecretError(problems);
  const warnings: string[] = [];
  if (new Date(leaf!.validTo) < now)
    warnings.push(`${where.certName}: the certificate expired on ${iso(leaf!.validTo)}`);
  if (new Date(leaf!.validFrom) > now)
    warnings.push(`${where.certName}: the certificate is not valid before ${iso(leaf!.validFrom)}`);
  return { chain, warnings };
}

/** The stored form: Kubernetes' kubernetes.io/tls Secret, its type and data under `spec`. */
export function storedTlsSecret(
  namespace: string,
  name: string,
  cert: string,
  key: string,
  ca?: string,
): StoredResource {
  const b64 = (text: string): string => Buffer.from(text).toString("base64");
  const spec: TlsSpec = {
    type: TLS_SECRET_TYPE,
    data: { "tls.crt": b64(cert), "tls.key": b64(key), ...(ca !== undefined ? { "ca.crt": b64(ca) } : {}) },
  };
  return { apiVersion: "v1", kind: SECRET_KIND, metadata: { name, namespace }, spec };
}

function specOf(stored: StoredResource): TlsSpec | undefined {
  const spec = stored.spec as Partial<TlsSpec> | undefined;
  const data = spec?.data;
  if (typeof data?.["tls.crt"] !== "string" || typeof data["tls.key"] !== "string") return undefined;
  return { type: spec?.type ?? TLS_SECRET_TYPE, data: data as TlsSpec["data"] };
}

/** The summary of a stored secret (undefined when what is stored is not a TLS secret that parses). */
export function secretView(stored: StoredResource, now = new Date()): SecretView | undefined {
  const spec = specOf(stored);
  if (spec === undefined) return undefined;
  let leaf: X509Certificate;
  let chain: number;
  try {
    const blocks = Buffer.from(spec.data["tls.crt"], "base64").toString().match(PEM_CERT) ?? [];
    leaf = new X509Certificate(blocks[0] ?? "");
    chain = blocks.length;
  } catch {
    return undefined;
  }
  return {
    namespace: stored.metadata.namespace,
    name: stored.metadata.name,
    type: spec.type,
    hosts: sansOf(leaf),
    subject: leaf.subject.replace(/\n/g, ", "),
    issuer: leaf.issuer.replace(/\n/g, ", "),
    notBefore: iso(leaf.validFrom),
    notAfter: iso(leaf.validTo),
    expired: new Date(leaf.validTo) < now,
    fingerprint: createHash("sha256").update(leaf.raw).digest("hex"),
    chain,
    caCertificates:
      spec.data["ca.crt"] === undefined
        ? 0
        : (Buffer.from(spec.data["ca.crt"], "base64").toString().match(PEM_CERT) ?? []).length,
    ...(stored.metadata.resourceVersion !== undefined ? { resourceVersion: stored.metadata.resourceVersion } : {}),
  };
}

/** What translation needs of a secret (world-index.ts SecretSummary). */
export function secretSummary(view: SecretView): SecretSummary {
  return {
    namespace: view.namespace,
    name: view.name,
    hosts: view.hosts,
    notAfter: view.notAfter,
    hasCa: view.caCertificates > 0,
  };
}

/**
 * Envoy's SDS Secret for a stored TLS secret, named as the gateway's listener names it: `kubernetes://NAME` the
 * certificate and key; `kubernetes://NAME-cacert` a validation context (MUTUAL servers) from the secret's `ca.crt`
 * — or, `separateCa`, from a secret of its own named NAME-cacert (Istio's other convention): its `ca.crt`, else its
 * certificate. Undefined when there is no CA to send.
 */
export function sdsSecret(stored: StoredResource, sdsName: string, separateCa = false): Json | undefined {
  const spec = specOf(stored);
  if (spec === undefined) return undefined;
  const cert = Buffer.from(spec.data["tls.crt"], "base64").toString();
  if (sdsName.endsWith("-cacert")) {
    const ca = spec.data["ca.crt"] === undefined ? undefined : Buffer.from(spec.data["ca.crt"], "base64").toString();
    const trusted = ca ?? (separateCa ? cert : undefined);
    return trusted === undefined
      ? undefined
      : { name: sdsName, validation_context: { trusted_ca: { inline_string: trusted } } };
  }
  const key = Buffer.from(spec.data["tls.key"], "base64").toString();
  return {
    name: sdsName,
    tls_certificate: { certificate_chain: { inline_string: cert }, private_key: { inline_string: key } },
  };
}

/** An SDS Secret as shown to people (proxy-config secrets): the private key replaced, as Envoy's config_dump does. */
export function redactSecret(secret: Json): Json {
  const copy = structuredClone(secret);
  const tlsCert = copy.tls_certificate as Json | undefined;
  if (tlsCert?.private_key !== undefined) tlsCert.private_key = { inline_string: "[redacted]" };
  return copy;
}

function sansOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? "")
    .split(/,\s*/)
    .map((s) => s.trim())
    .flatMap((s) => (s.startsWith("DNS:") ? [s.slice(4)] : s.startsWith("IP Address:") ? [s.slice(11)] : []));
}

function iso(date: string): string {
  return new Date(date).toISOString();
}
