// A CommonTlsContext made usable: the certificates (inline, from files, or SDS secrets by name) and the validation
// context resolved into a tls.SecureContext plus the checks Node does not make (SAN matchers). The context is built
// again when a secret it uses changes (SecretStore versions), for the next handshake only: connections already open
// keep the context they were made with.

import type crypto from "node:crypto";
import type tls from "node:tls";
import type {
  CommonTlsContext,
  SanMatcher,
  SdsReference,
  TlsCertificate,
  ValidationContext,
} from "../../api/xds/parse/tls-context.ts";
import { StringMatcher } from "../router/string-matcher.ts";
import {
  checkKeyPair,
  loadDataSource,
  parseCertificates,
  secureContext,
  TlsConfigError,
  type SecretStore,
} from "./secrets.ts";

/** What one handshake uses: the secure context and how to judge the peer's certificate. */
export interface ResolvedTls {
  secureContext: tls.SecureContext;
  /** A validation context applies: the peer's certificate is asked for (server) or checked (client). */
  validates: boolean;
  /** Checks the chain against trusted_ca (false: ACCEPT_UNTRUSTED, or no trusted_ca). */
  verifyChain: boolean;
  sanMatchers: readonly CompiledSanMatcher[];
  /** alpn_protocols in TLS's wire form, for the socket; undefined: none offered. */
  alpn: Buffer | undefined;
}

export interface CompiledSanMatcher {
  sanType: SanMatcher["sanType"];
  matcher: StringMatcher;
  /** The value of an exact matcher (for DNS wildcard SANs). */
  exact: string | undefined;
}

/** Why a context cannot be built yet: a secret it names has not arrived. */
export class SecretNotReady extends TlsConfigError {
  constructor(readonly secretName: string) {
    super(`secret ${secretName} has not been received yet`);
  }
}

export class TlsContextProvider {
  private cached: { key: string; resolved: ResolvedTls } | undefined;

  constructor(
    private readonly common: CommonTlsContext,
    private readonly secrets: SecretStore,
    /** "listener x filter chain y" / "cluster z": in error messages. */
    private readonly owner: string,
    /** alpn_protocols in place of the context's (an upstream's from its protocol options). */
    private readonly extra: { alpn?: readonly string[] } = {},
  ) {}

  /** The SDS secrets this context names (and where they come from). */
  get sdsReferences(): SdsReference[] {
    const refs = [...this.common.certificateSds];
    if (this.common.validationSds !== undefined) refs.push(this.common.validationSds);
    return refs;
  }

  /** The context for the next handshake. Throws SecretNotReady or TlsConfigError. */
  current(): ResolvedTls {
    const versions = this.sdsReferences.map((r) => {
      const held = this.secrets.get(r.name, r.source);
      if (held === undefined) throw new SecretNotReady(r.name);
      return held.version;
    });
    const key = versions.join(",");
    if (this.cached?.key === key) return this.cached.resolved;
    const resolved = this.build();
    this.cached = { key, resolved };
    return resolved;
  }

  /** Whether every secret it names is there. */
  get ready(): boolean {
    return this.sdsReferences.every((r) => this.secrets.get(r.name, r.source) !== undefined);
  }

  private build(): ResolvedTls {
    const common = this.common;
    const certificates: { cert: TlsCertificate; what: string }[] = common.certificates.map((cert, i) => ({
      cert,
      what: `${this.owner} tls_certificates[${i}]`,
    }));
    for (const ref of common.certificateSds) {
      const held = this.secrets.get(ref.name, ref.source)!;
      if (held.secret.kind !== "tls_certificate")
        throw new TlsConfigError(
          `${this.owner}: secret ${ref.name} is a validation_context, expected a tls_certificate`,
        );
      certificates.push({ cert: held.secret.certificate, what: `secret ${ref.name}` });
    }
    const validation = this.validationContext();
    const options: tls.SecureContextOptions = {};
    if (certificates.length > 0) {
      const certs: Buffer[] = [];
      const keys: Buffer[] = [];
      for (const { cert, what } of certificates) {
        const chain = loadDataSource(cert.certificateChain, `${what} certificate_chain`);
        const key = loadDataSource(cert.privateKey, `${what} private_key`);
        checkKeyPair(chain, key, what);
        certs.push(chain);
        keys.push(key);
      }
      options.cert = certs;
      options.key = keys;
    }
    let verifyChain = false;
    if (validation?.trustedCa !== undefined) {
      const ca = loadDataSource(validation.trustedCa, `${this.owner} trusted_ca`);
      parseCertificates(ca, `${this.owner} trusted_ca`);
      options.ca = ca;
      verifyChain = !validation.acceptUntrusted;
    }
    if (common.minVersion !== undefined) options.minVersion = common.minVersion;
    else options.minVersion = "TLSv1.2";
    if (common.maxVersion !== undefined) options.maxVersion = common.maxVersion;
    if (common.cipherSuites.length > 0) options.ciphers = common.cipherSuites.join(":");
    if (common.ecdhCurves.length > 0) options.ecdhCurve = common.ecdhCurves.join(":");
    const secure = secureContext(options, this.owner);
    const alpn = this.extra.alpn ?? common.alpnProtocols;
    return {
      secureContext: secure,
      alpn: alpn.length === 0 ? undefined : alpnWire(alpn),
      validates: validation !== undefined,
      verifyChain,
      sanMatchers: (validation?.sanMatchers ?? []).map((m) => ({
        sanType: m.sanType,
        matcher: new StringMatcher(m.matcher),
        exact: m.matcher.kind === "exact" ? m.matcher.value : undefined,
      })),
    };
  }

  /** The inline (or combined default) validation context, merged with the SDS one as Envoy's combined context. */
  private validationContext(): ValidationContext | undefined {
    const inline = this.common.validation;
    const ref = this.common.validationSds;
    if (ref === undefined) return inline;
    const held = this.secrets.get(ref.name, ref.source)!;
    if (held.secret.kind !== "validation_context")
      throw new TlsConfigError(`${this.owner}: secret ${ref.name} is a tls_certificate, expected a validation_context`);
    const dynamic = held.secret.validation;
    if (inline === undefined) return dynamic;
    return {
      trustedCa: dynamic.trustedCa ?? inline.trustedCa,
      sanMatchers: [...inline.sanMatchers, ...dynamic.sanMatchers],
      acceptUntrusted: inline.acceptUntrusted || dynamic.acceptUntrusted,
    };
  }
}

/** The ALPN protocol list as TLS writes it: each name preceded by its length. */
export function alpnWire(protocols: readonly string[]): Buffer {
  return Buffer.concat(protocols.map((p) => Buffer.concat([Buffer.from([Buffer.byteLength(p)]), Buffer.from(p)])));
}

/** Node's subjectaltname ("DNS:a, URI:spiffe://x, IP Address:1.2.3.4, email:a@b") as [type, value] pairs. */
export function subjectAltNames(cert: crypto.X509Certificate | tls.PeerCertificate | undefined): [string, string][] {
  const text =
    cert === undefined
      ? undefined
      : "subjectaltname" in cert
        ? cert.subjectaltname
        : (cert as crypto.X509Certificate).subjectAltName;
  if (text === undefined || text === "") return [];
  const out: [string, string][] = [];
  // Node quotes a value with a comma or quote in it as a JSON string.
  const re = /(DNS|URI|IP Address|email|othername|DirName|Registered ID):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const m of text.matchAll(re)) {
    let value = m[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    out.push([m[1]!, value]);
  }
  return out;
}

const SAN_TYPE_OF_NODE: Record<string, SanMatcher["sanType"] | undefined> = {
  DNS: "DNS",
  URI: "URI",
  "IP Address": "IP_ADDRESS",
  email: "EMAIL",
};

/** Whether some SAN of the certificate satisfies some matcher (no matchers: true). DNS wildcards as Envoy's. */
export function sanMatches(sans: readonly [string, string][], matchers: readonly CompiledSanMatcher[]): boolean {
  if (matchers.length === 0) return true;
  for (const [type, value] of sans) {
    const sanType = SAN_TYPE_OF_NODE[type];
    if (sanType === undefined) continue;
    for (const m of matchers) {
      if (m.sanType !== "ANY" && m.sanType !== sanType) continue;
      if (m.matcher.match(value)) return true;
      // A wildcard DNS SAN (*.example.com) matches an exact matcher for one label under it, as Envoy's dnsNameMatch.
      if (sanType === "DNS" && value.startsWith("*.") && m.exact !== undefined) {
        const want = m.exact;
        const dot = want.indexOf(".");
        if (dot > 0 && want.slice(dot).toLowerCase() === value.slice(1).toLowerCase()) return true;
      }
    }
  }
  return false;
}

/** The names of the SDS secrets a context receives over ADS. */
export function adsSecretNames(common: CommonTlsContext | undefined): string[] {
  if (common === undefined) return [];
  const refs = [...common.certificateSds, ...(common.validationSds === undefined ? [] : [common.validationSds])];
  return refs.filter((r) => r.source === "ads").map((r) => r.name);
}
