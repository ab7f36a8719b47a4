// A cluster's TLS origination (transport_socket envoy.transport_sockets.tls, UpstreamTlsContext): every connection
// the cluster's HTTP pools open is wrapped in TLS with the context's SNI, client certificate (mutual TLS), trusted
// CA and SAN matchers, and ALPN. As Envoy's, the server's name is not checked against the host: the SAN matchers
// are the identity check (Istio's DestinationRule subjectAltNames, SPIFFE IDs). A failed verification fails the
// connection (the request: 503 UF, the reason in its details) and is counted in cluster.<name>.ssl.*.

import tls from "node:tls";
import type { UpstreamTlsContext } from "../../api/xds/parse/tls-context.ts";
import type { UpstreamConnect } from "../upstream/connect.ts";
import {
  alpnWire,
  sanMatches,
  SecretNotReady,
  subjectAltNames,
  TlsContextProvider,
  type ResolvedTls,
} from "./context.ts";
import type { SecretStore } from "./secrets.ts";
import type { SslStats } from "./stats.ts";

/** The error a connection fails with when the server's certificate has no SAN the matchers accept. */
export const SAN_MISMATCH = "TRELLIS_TLS_SAN_MISMATCH";

/** OpenSSL's verification failures (X509_V_ERR_*), as Node names them: counted as fail_verify_error. */
const VERIFY_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
]);

/** Where a failed upstream handshake keeps its reason (Envoy's transport failure reason) on the error it fails with. */
const TRANSPORT_FAILURE_REASON = Symbol("trellis.transportFailureReason");

/**
 * The transport failure reason of an upstream connection's error, Envoy's words ("TLS error: …"), when TLS failed
 * it: OpenSSL's reason, the verification's, or the SAN matcher's; never a certificate's or a key's bytes.
 */
export function transportFailureReason(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  return (err as { [TRANSPORT_FAILURE_REASON]?: string })[TRANSPORT_FAILURE_REASON];
}

function markReason(err: Error, reason: string): void {
  (err as { [TRANSPORT_FAILURE_REASON]?: string })[TRANSPORT_FAILURE_REASON] = reason;
}

/** The reason of a handshake's error, as Envoy (BoringSSL) words it, from Node's error code. */
function reasonOf(err: NodeJS.ErrnoException): string {
  const code = err.code;
  if (code === SAN_MISMATCH) return "TLS error: CERTIFICATE_VERIFY_FAILED: verify cert failed: SAN matcher";
  if (code !== undefined && VERIFY_CODES.has(code))
    return `TLS error: CERTIFICATE_VERIFY_FAILED: verify cert failed: ${code}`;
  if (code === "ECONNRESET") return "TLS error: Connection reset by peer";
  if (code?.startsWith("ERR_SSL_")) return `TLS error: ${code.slice("ERR_SSL_".length)}`;
  return `TLS error: ${code ?? "handshake failed"}`;
}

function sanMismatch(sans: string | undefined): Error {
  const error = new Error(`TLS error: the upstream certificate's SANs (${sans ?? "none"}) match no SAN matcher`);
  (error as NodeJS.ErrnoException).code = SAN_MISMATCH;
  return error;
}

export class UpstreamTls {
  readonly provider: TlsContextProvider;
  /**
   * The latest TLS session of each context (Envoy's max_session_keys default: one): the next connection offers it and
   * the server may resume it (ssl.session_reused). Keyed by the resolved context, so a rotated secret starts afresh.
   */
  private readonly sessions = new WeakMap<ResolvedTls, Buffer>();

  constructor(
    private readonly config: UpstreamTlsContext,
    secrets: SecretStore,
    private readonly stats: SslStats,
    clusterName: string,
  ) {
    this.provider = new TlsContextProvider(config.common, secrets, `cluster ${clusterName}`);
  }

  /**
   * `connect` with TLS over each connection it opens. `alpnFallback`: the protocols offered by ALPN when the context
   * has no alpn_protocols (Envoy's application protocol fallback: the HTTP/2 pool's ["h2"], HTTP/1.1's ["http/1.1"]).
   */
  wrap(connect: UpstreamConnect, alpnFallback?: readonly string[]): UpstreamConnect {
    const fallback = alpnFallback === undefined || alpnFallback.length === 0 ? undefined : alpnWire(alpnFallback);
    return (host, port, onData) => {
      const raw = connect(host, port);
      let resolved: ResolvedTls;
      try {
        resolved = this.provider.current();
      } catch (err) {
        if (err instanceof SecretNotReady) {
          this.stats.secretsNotReady.inc();
          markReason(err, "TLS error: Secret is not supplied by SDS");
        } else {
          this.stats.connectionError.inc();
          markReason(err as Error, "TLS error: the cluster's TLS context cannot be built");
        }
        // The connection fails with the reason (the router puts it in the response's details).
        queueMicrotask(() => raw.destroy(err as Error));
        return raw;
      }
      const session = this.sessions.get(resolved);
      const secure = tls.connect({
        socket: raw,
        secureContext: resolved.secureContext,
        ...(this.config.sni === "" ? {} : { servername: this.config.sni }),
        // Without a trusted CA (or with ACCEPT_UNTRUSTED) the chain is not checked; the SANs still are.
        rejectUnauthorized: resolved.verifyChain,
        checkServerIdentity: (_host, cert) =>
          sanMatches(subjectAltNames(cert), resolved.sanMatchers) ? undefined : sanMismatch(cert.subjectaltname),
        ...((resolved.alpn ?? fallback) === undefined ? {} : { ALPNProtocols: resolved.alpn ?? fallback }),
        ...(session === undefined ? {} : { session }),
      });
      // TLS 1.3 tickets come after the handshake, TLS 1.2 sessions with it: either is kept for the next connection.
      // Only a session of a connection that passed the checks is kept (TLS 1.2's comes before they are made).
      let passed = false;
      let early: Buffer | undefined;
      secure.on("session", (s: Buffer) => {
        if (passed) this.sessions.set(resolved, s);
        else early = s;
      });
      // The pools see the connection made ('connect') only once the handshake and the checks passed: a failed
      // verification is a connection failure (503 UF, the reason in the details), and nothing they wrote before
      // goes out to an upstream that failed them.
      // Node's own 'connect' listeners (the TLS socket starts its handshake on one) still run at the TCP connect.
      const emit = secure.emit;
      const own = secure.rawListeners("connect") as ((...a: unknown[]) => void)[];
      secure.emit = function (this: tls.TLSSocket, event: string | symbol, ...args: unknown[]): boolean {
        if (event !== "connect") return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
        for (const l of own) l.apply(this, args);
        return true;
      } as typeof secure.emit;
      // Errors once the handshake is done are the connection's, not TLS's: only the first before it is counted.
      let counted = false;
      // An error before the TCP connect (ECONNREFUSED) is not TLS's.
      let tcpConnected = !raw.connecting;
      if (!tcpConnected) raw.once("connect", () => (tcpConnected = true));
      secure.once("secureConnect", () => {
        counted = true;
        // With a trusted CA, checkServerIdentity already judged the SANs (before this event). Without one, Node
        // does not call it (the chain "fails" against its own roots and is let through): the SANs are judged here.
        if (
          !resolved.verifyChain &&
          !sanMatches(subjectAltNames(secure.getPeerX509Certificate()), resolved.sanMatchers)
        ) {
          this.stats.failVerifySan.inc();
          const mismatch = sanMismatch(secure.getPeerX509Certificate()?.subjectAltName);
          markReason(mismatch, reasonOf(mismatch));
          secure.destroy(mismatch);
          return;
        }
        this.stats.connected(secure);
        passed = true;
        if (early !== undefined) this.sessions.set(resolved, early);
        secure.emit = emit;
        secure.emit("connect");
      });
      secure.on("error", (err: NodeJS.ErrnoException) => {
        if (counted) return;
        counted = true;
        if (tcpConnected || err.code === SAN_MISMATCH || VERIFY_CODES.has(err.code ?? ""))
          markReason(err, reasonOf(err));
        if (err.code === SAN_MISMATCH) this.stats.failVerifySan.inc();
        else if (err.code !== undefined && VERIFY_CODES.has(err.code)) this.stats.failVerifyError.inc();
        else if (err.code?.startsWith("ERR_SSL") || err.code === "ECONNRESET") this.stats.connectionError.inc();
      });
      if (onData !== undefined) secure.on("data", onData);
      return secure;
    };
  }
}
