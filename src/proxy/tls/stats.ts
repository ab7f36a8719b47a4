// Envoy's TLS stats (docs: configuration/listeners/stats "TLS statistics" and the cluster's): `ssl.*` under the
// listener (listener.<address>.ssl.handshake) or the cluster (cluster.<name>.ssl.handshake), and the socket
// factory's SDS counters (listener.<address>.server_ssl_socket_factory.*, cluster.<name>.client_ssl_socket_factory.*).

import type { TLSSocket } from "node:tls";
import type { Counter, Labels, StatsStore } from "../../telemetry/stats.ts";

export type TlsScope = { kind: "listener"; address: string } | { kind: "cluster"; name: string };

export class SslStats {
  readonly handshake: Counter;
  readonly connectionError: Counter;
  readonly noCertificate: Counter;
  readonly failVerifyNoCert: Counter;
  readonly failVerifyError: Counter;
  readonly failVerifySan: Counter;
  readonly sessionReused: Counter;
  /** server_ssl_socket_factory / client_ssl_socket_factory: a connection met a context whose secret had not come. */
  readonly secretsNotReady: Counter;
  readonly contextUpdateBySds: Counter;
  /** ssl.versions.*, ssl.ciphers.*, ssl.curves.*: one counter per name seen, made on first use. */
  private readonly named = new Map<string, Counter>();
  private readonly prefix: string;
  private readonly labels: Labels;

  constructor(
    private readonly store: StatsStore,
    scope: TlsScope,
  ) {
    const listener = scope.kind === "listener";
    this.prefix = listener ? "envoy_listener_" : "envoy_cluster_";
    this.labels = listener ? { envoy_listener_address: scope.address } : { envoy_cluster_name: scope.name };
    const ssl = (name: string, help: string): Counter => store.counter(`${this.prefix}ssl_${name}`, help, this.labels);
    this.handshake = ssl("handshake", "Total successful TLS connection handshakes");
    this.connectionError = ssl(
      "connection_error",
      "Total TLS connection errors not including failed certificate verifications",
    );
    this.noCertificate = ssl("no_certificate", "Total successful TLS connections with no client certificate");
    this.failVerifyNoCert = ssl(
      "fail_verify_no_cert",
      "Total TLS connections that failed because of missing client certificate",
    );
    this.failVerifyError = ssl("fail_verify_error", "Total TLS connections that failed CA verification");
    this.failVerifySan = ssl("fail_verify_san", "Total TLS connections that failed SAN verification");
    this.sessionReused = ssl("session_reused", "Total successful TLS session resumptions");
    const factory = listener ? "server_ssl_socket_factory" : "client_ssl_socket_factory";
    const side = listener ? "downstream" : "upstream";
    this.secretsNotReady = store.counter(
      `${this.prefix}${factory}_${side}_context_secrets_not_ready`,
      "Total connections refused because the TLS context's secrets had not been received",
      this.labels,
    );
    this.contextUpdateBySds = store.counter(
      `${this.prefix}${factory}_ssl_context_update_by_sds`,
      "Total TLS contexts rebuilt for a secret SDS changed",
      this.labels,
    );
  }

  /** ssl.versions.<TLSv1.2|TLSv1.3> of one successful handshake. */
  version(protocol: string | null): void {
    this.namedCounter("versions", protocol ?? "unknown", "Total successful TLS connections by version").inc();
  }

  /** ssl.ciphers.<OpenSSL name> of one successful handshake (TLS_AES_128_GCM_SHA256, ECDHE-ECDSA-AES128-GCM-SHA256). */
  cipher(name: string): void {
    this.namedCounter("ciphers", name, "Total successful TLS connections by cipher suite").inc();
  }

  /** ssl.curves.<X25519|P-256|…> of one successful handshake: the key exchange's group, as BoringSSL names it. */
  curve(name: string): void {
    this.namedCounter("curves", CURVE_NAMES[name] ?? name, "Total successful TLS connections by ECDHE curve").inc();
  }

  /**
   * One successful handshake of `secure` (the checks passed): ssl.handshake, ssl.versions.*, ssl.ciphers.*,
   * ssl.curves.* (Node tells the group only on the client side), ssl.session_reused.
   */
  connected(secure: TLSSocket): void {
    this.handshake.inc();
    this.version(secure.getProtocol());
    const cipher = secure.getCipher() as { name?: string } | undefined;
    if (cipher?.name !== undefined) this.cipher(cipher.name);
    const key = secure.getEphemeralKeyInfo() as { name?: string } | null;
    if (typeof key?.name === "string" && key.name !== "") this.curve(key.name);
    if (secure.isSessionReused()) this.sessionReused.inc();
  }

  private namedCounter(family: string, value: string, help: string): Counter {
    const name = value.replace(/[^A-Za-z0-9]/g, "_");
    const id = `${family}_${name}`;
    let c = this.named.get(id);
    if (c === undefined) {
      c = this.store.counter(`${this.prefix}ssl_${id}`, help, this.labels);
      this.named.set(id, c);
    }
    return c;
  }
}

/** OpenSSL's names of the NIST curves (Node's) as BoringSSL's, which Envoy's stats use. */
const CURVE_NAMES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };
