// envoy.transport_sockets.tls: DownstreamTlsContext (a filter chain terminates TLS) and UpstreamTlsContext (a
// cluster originates it), their CommonTlsContext, and the SDS Secret (secret.ts) share the readers here. Key material
// is never quoted in a message: a problem with a private key names its field and says what was expected, nothing of
// its value.

import type { StringMatch } from "../types.ts";
import { describe } from "./context.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import type { Item } from "./fields.ts";
import { readStringMatcher, readStringMatcherItem } from "./matchers.ts";

export const TLS_SOCKET_NAME = "envoy.transport_sockets.tls";
export const DOWNSTREAM_TLS_TYPE_URL =
  "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
export const UPSTREAM_TLS_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

/** Where certificate or key bytes come from (envoy.config.core.v3.DataSource). */
export type DataSource = { kind: "inline"; bytes: Buffer } | { kind: "file"; path: string };

export interface TlsCertificate {
  certificateChain: DataSource;
  privateKey: DataSource;
}

export type SanType = "DNS" | "URI" | "EMAIL" | "IP_ADDRESS" | "ANY";

/** One SubjectAltNameMatcher (match_typed_subject_alt_names) or a bare StringMatcher (match_subject_alt_names: ANY). */
export interface SanMatcher {
  sanType: SanType;
  matcher: StringMatch;
}

export interface ValidationContext {
  /** The CA bundle the peer's chain must lead to; none: the peer's certificate is not verified. */
  trustedCa: DataSource | undefined;
  /** The peer's certificate must have a SAN matching one of these (none: any SAN). */
  sanMatchers: SanMatcher[];
  /** ACCEPT_UNTRUSTED: the chain is not checked against trusted_ca (SANs still are). */
  acceptUntrusted: boolean;
}

/** A secret named in tls_certificate_sds_secret_configs / validation_context_sds_secret_config. */
export interface SdsReference {
  name: string;
  /** "ads": delivered over the ADS stream; "static": the bootstrap's static_resources.secrets. */
  source: "ads" | "static";
}

export type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";

export interface CommonTlsContext {
  minVersion: TlsVersion | undefined;
  maxVersion: TlsVersion | undefined;
  /** OpenSSL cipher names (TLS 1.2 and below), in order; empty: Node's defaults. */
  cipherSuites: string[];
  ecdhCurves: string[];
  certificates: TlsCertificate[];
  certificateSds: SdsReference[];
  /** The inline validation_context, or combined_validation_context.default_validation_context. */
  validation: ValidationContext | undefined;
  /** validation_context_sds_secret_config, or combined_validation_context's. */
  validationSds: SdsReference | undefined;
  alpnProtocols: string[];
}

export interface DownstreamTlsContext {
  common: CommonTlsContext;
  requireClientCertificate: boolean;
}

export interface UpstreamTlsContext {
  common: CommonTlsContext;
  /** The SNI sent in the ClientHello; "" none. */
  sni: string;
}

const VERSIONS: readonly string[] = ["TLS_AUTO", "TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3"];
const NODE_VERSION: Record<string, TlsVersion | undefined> = {
  TLS_AUTO: undefined,
  TLSv1_0: "TLSv1",
  TLSv1_1: "TLSv1.1",
  TLSv1_2: "TLSv1.2",
  TLSv1_3: "TLSv1.3",
};

const TLS_PARAMS_SPEC = {
  handled: [
    "tls_minimum_protocol_version",
    "tls_maximum_protocol_version",
    "cipher_suites",
    "ecdh_curves",
    "signature_algorithms",
  ],
  unsupported: ["compliance_policies"],
} as const;

const COMMON_SPEC = {
  handled: [
    "tls_params",
    "tls_certificates",
    "tls_certificate_sds_secret_configs",
    "validation_context",
    "validation_context_sds_secret_config",
    "combined_validation_context",
    "alpn_protocols",
  ],
  unsupported: [
    "tls_certificate_provider_instance",
    "tls_certificate_certificate_provider",
    "tls_certificate_certificate_provider_instance",
    "validation_context_certificate_provider",
    "validation_context_certificate_provider_instance",
    "custom_handshaker",
    "key_log",
    "custom_tls_certificate_selector",
  ],
} as const;

const DOWNSTREAM_SPEC = {
  handled: ["@type", "common_tls_context", "require_client_certificate"],
  ignored: ["disable_stateless_session_resumption", "disable_stateful_session_resumption"],
  unsupported: [
    "require_sni",
    "session_ticket_keys",
    "session_ticket_keys_sds_secret_config",
    "session_timeout",
    "ocsp_staple_policy",
    "full_scan_certs_on_sni_mismatch",
    "prefer_client_ciphers",
  ],
} as const;

const UPSTREAM_SPEC = {
  handled: ["@type", "common_tls_context", "sni"],
  ignored: ["allow_renegotiation", "max_session_keys"],
  unsupported: ["auto_host_sni", "auto_sni_san_validation", "enforce_rsa_key_usage"],
} as const;

export const TLS_CERTIFICATE_SPEC = {
  handled: ["certificate_chain", "private_key"],
  unsupported: ["password", "pkey_provider", "ocsp_staple", "signed_certificate_timestamp", "watched_directory"],
} as const;

export const VALIDATION_SPEC = {
  handled: ["trusted_ca", "match_typed_subject_alt_names", "match_subject_alt_names", "trust_chain_verification"],
  unsupported: [
    "ca_certificate_provider_instance",
    "verify_certificate_spki",
    "verify_certificate_hash",
    "crl",
    "allow_expired_certificate",
    "custom_validator_config",
    "only_verify_leaf_cert_crl",
    "max_verify_depth",
    "watched_directory",
    "system_root_certs",
  ],
} as const;

const COMBINED_SPEC = {
  handled: ["default_validation_context", "validation_context_sds_secret_config"],
  unsupported: ["validation_context_certificate_provider", "validation_context_certificate_provider_instance"],
} as const;

const SDS_CONFIG_SPEC = { handled: ["name", "sds_config"] } as const;
const CONFIG_SOURCE_SPEC = {
  handled: ["ads", "resource_api_version", "initial_fetch_timeout"],
  unsupported: ["path", "path_config_source", "api_config_source", "self"],
} as const;
const DATA_SOURCE_SPEC = {
  handled: ["filename", "inline_bytes", "inline_string"],
  unsupported: ["environment_variable", "watched_directory"],
} as const;
const SAN_MATCHER_SPEC = { handled: ["san_type", "matcher"], unsupported: ["oid"] } as const;
const SAN_TYPES: readonly (SanType | undefined)[] = [undefined, "EMAIL", "DNS", "URI", "IP_ADDRESS"];
const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

/** A DownstreamTlsContext (the typed_config of a filter chain's transport_socket). */
export function readDownstreamTlsContext(ctx: ParseContext, raw: unknown, path: string): DownstreamTlsContext {
  const fields = Fields.open(ctx, raw, path, DOWNSTREAM_SPEC);
  const common = readCommonTlsContext(fields);
  const requireClientCertificate = fields.bool("require_client_certificate", false);
  if (requireClientCertificate && common.validation === undefined && common.validationSds === undefined)
    fields.report(
      "require_client_certificate",
      "a client certificate can only be required with a validation_context to check it against",
    );
  if (!fields.broken && common.certificates.length === 0 && common.certificateSds.length === 0)
    fields.report(
      "common_tls_context",
      "a server needs a certificate: tls_certificates or tls_certificate_sds_secret_configs",
    );
  return { common, requireClientCertificate };
}

/** An UpstreamTlsContext (the typed_config of a cluster's transport_socket). */
export function readUpstreamTlsContext(ctx: ParseContext, raw: unknown, path: string): UpstreamTlsContext {
  const fields = Fields.open(ctx, raw, path, UPSTREAM_SPEC);
  const common = readCommonTlsContext(fields);
  const sni = fields.string("sni") ?? "";
  if (sni.length > 255) fields.report("sni", "expected at most 255 characters");
  return { common, sni };
}

function readCommonTlsContext(parent: Fields): CommonTlsContext {
  const common = parent.message("common_tls_context", COMMON_SPEC);
  const ctx = parent.ctx;
  const params = common.message("tls_params", TLS_PARAMS_SPEC);
  const version = (name: string): TlsVersion | undefined => NODE_VERSION[params.enumValue(name, VERSIONS, "TLS_AUTO")];
  const minVersion = version("tls_minimum_protocol_version");
  const maxVersion = version("tls_maximum_protocol_version");
  if (minVersion !== undefined && maxVersion !== undefined && minVersion > maxVersion)
    params.report("tls_maximum_protocol_version", "must not be lower than tls_minimum_protocol_version");
  const cipherSuites = params.stringList("cipher_suites");
  cipherSuites.forEach((c, i) => {
    if (!/^[A-Za-z0-9_-]+$/.test(c))
      ctx.report(
        `${params.at("cipher_suites")}[${i}]`,
        `expected one OpenSSL cipher name, got ${describe(c)} (BoringSSL's [A|B] equal-preference groups are not supported)`,
      );
  });
  const ecdhCurves = params.stringList("ecdh_curves");
  if (params.has("signature_algorithms"))
    params.report("signature_algorithms", "is not supported yet (Node's OpenSSL is given no sigalgs list)");
  const certificates = common.list("tls_certificates").map((item) => readTlsCertificate(ctx, item));
  const certificateSds = common
    .list("tls_certificate_sds_secret_configs")
    .map((item) => readSdsReference(ctx, item.value, item.path));
  let validation = common.has("validation_context")
    ? readValidationContext(ctx, common.raw("validation_context"), common.at("validation_context"))
    : undefined;
  let validationSds = common.has("validation_context_sds_secret_config")
    ? readSdsReference(
        ctx,
        common.raw("validation_context_sds_secret_config"),
        common.at("validation_context_sds_secret_config"),
      )
    : undefined;
  const given = ["validation_context", "validation_context_sds_secret_config", "combined_validation_context"].filter(
    (n) => common.has(n),
  );
  if (given.length > 1) common.report(given[1]!, `only one of ${given.join(", ")} may be set`);
  if (common.has("combined_validation_context")) {
    const combined = common.message("combined_validation_context", COMBINED_SPEC);
    if (combined.requireField("default_validation_context"))
      validation = readValidationContext(
        ctx,
        combined.raw("default_validation_context"),
        combined.at("default_validation_context"),
      );
    if (combined.requireField("validation_context_sds_secret_config"))
      validationSds = readSdsReference(
        ctx,
        combined.raw("validation_context_sds_secret_config"),
        combined.at("validation_context_sds_secret_config"),
      );
  }
  const alpnProtocols = common.stringList("alpn_protocols");
  alpnProtocols.forEach((p, i) => {
    if (p === "" || Buffer.byteLength(p) > 255)
      ctx.report(`${common.at("alpn_protocols")}[${i}]`, "expected a protocol name of 1 to 255 bytes");
  });
  return {
    minVersion,
    maxVersion,
    cipherSuites,
    ecdhCurves,
    certificates,
    certificateSds,
    validation,
    validationSds,
    alpnProtocols,
  };
}

export function readTlsCertificate(ctx: ParseContext, item: Item): TlsCertificate {
  const cert = Fields.open(ctx, item.value, item.path, TLS_CERTIFICATE_SPEC);
  const certificateChain = cert.requireField("certificate_chain")
    ? readDataSource(ctx, cert.raw("certificate_chain"), cert.at("certificate_chain"))
    : EMPTY_SOURCE;
  const privateKey = cert.requireField("private_key")
    ? readDataSource(ctx, cert.raw("private_key"), cert.at("private_key"))
    : EMPTY_SOURCE;
  return { certificateChain, privateKey };
}

export function readValidationContext(ctx: ParseContext, raw: unknown, path: string): ValidationContext {
  const v = Fields.open(ctx, raw, path, VALIDATION_SPEC);
  const trustedCa = v.has("trusted_ca") ? readDataSource(ctx, v.raw("trusted_ca"), v.at("trusted_ca")) : undefined;
  const sanMatchers: SanMatcher[] = v.list("match_typed_subject_alt_names").map((item) => {
    const m = Fields.open(ctx, item.value, item.path, SAN_MATCHER_SPEC);
    const sanType = m.requireField("san_type")
      ? m.enumValue("san_type", SAN_TYPES, "DNS", [
          "SAN_TYPE_UNSPECIFIED",
          undefined,
          undefined,
          undefined,
          undefined,
          "OTHER_NAME",
        ])
      : "DNS";
    m.requireField("matcher");
    return { sanType, matcher: readStringMatcher(m, "matcher") };
  });
  // The deprecated match_subject_alt_names: a SAN of any type.
  for (const item of v.list("match_subject_alt_names"))
    sanMatchers.push({ sanType: "ANY", matcher: readStringMatcherItem(ctx, item) });
  const verification = v.enumValue(
    "trust_chain_verification",
    ["VERIFY_TRUST_CHAIN", "ACCEPT_UNTRUSTED"],
    "VERIFY_TRUST_CHAIN",
  );
  return { trustedCa, sanMatchers, acceptUntrusted: verification === "ACCEPT_UNTRUSTED" };
}

/** An SdsSecretConfig: a name, and sds_config {ads: {}} (ADS) or none (the bootstrap's static secrets). */
export function readSdsReference(ctx: ParseContext, raw: unknown, path: string): SdsReference {
  const sds = Fields.open(ctx, raw, path, SDS_CONFIG_SPEC);
  const name = sds.requiredString("name");
  if (!sds.has("sds_config")) return { name, source: "static" };
  const source = sds.message("sds_config", CONFIG_SOURCE_SPEC);
  if (!source.broken && !source.has("ads"))
    sds.report(
      "sds_config",
      "expected {ads: {}}: secrets come over the ADS stream (or, without sds_config, from static_resources.secrets)",
    );
  return { name, source: "ads" };
}

const EMPTY_SOURCE: DataSource = { kind: "inline", bytes: Buffer.alloc(0) };

/** A DataSource; its value is never quoted in a message (it may be a private key). */
export function readDataSource(ctx: ParseContext, raw: unknown, path: string): DataSource {
  const source = Fields.open(ctx, raw, path, DATA_SOURCE_SPEC);
  const kind = source.oneOf(["filename", "inline_bytes", "inline_string"], true);
  const value = kind === undefined ? undefined : source.raw(kind);
  if (kind === undefined) return EMPTY_SOURCE;
  // Decoded from the wire, bytes arrive as bytes; written in YAML or JSON, as base64.
  if (kind === "inline_bytes" && value instanceof Uint8Array) return { kind: "inline", bytes: Buffer.from(value) };
  if (typeof value !== "string") {
    source.report(kind, `expected a string, got ${Array.isArray(value) ? "a list" : typeof value}`);
    return EMPTY_SOURCE;
  }
  if (kind === "filename") {
    if (value === "") source.report(kind, "must not be empty");
    return { kind: "file", path: value };
  }
  if (kind === "inline_bytes") {
    if (!BASE64.test(value)) {
      source.report(kind, "expected base64");
      return EMPTY_SOURCE;
    }
    return { kind: "inline", bytes: Buffer.from(value, "base64") };
  }
  return { kind: "inline", bytes: Buffer.from(value, "utf8") };
}
