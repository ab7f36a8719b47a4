// Envoy's TLS stats (docs: configuration/listeners/stats "TLS statistics" and the cluster's): `ssl.*` under the
// listener (listener.<address>.ssl.handshake) or the cluster (cluster.<name>.ssl.handshake), and the socket
// factory's SDS counters (listener.<address>.server_ssl_socket_factory.*, cluster.<name>.client_ssl_socket_factory.*).

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
  private readonly versions = new Map<string, Counter>();
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
    const name = (protocol ?? "unknown").replace(/[^A-Za-z0-9]/g, "_");
    let c = this.versions.get(name);
    if (c === undefined) {
      c = this.store.counter(
        `${this.prefix}ssl_versions_${name}`,
        "Total successful TLS connections by version",
        this.labels,
      );
      this.versions.set(name, c);
    }
    c.inc();
  }
}
