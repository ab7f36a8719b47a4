// A filter chain's TLS termination (transport_socket envoy.transport_sockets.tls, DownstreamTlsContext). The chain
// was chosen before the handshake (by the tls_inspector's SNI and ALPN); the bytes the inspector read are handed
// back to the socket and TLS starts on it, so the ClientHello reaches OpenSSL intact however it was split. Once the
// handshake is done and the client certificate (if any) passed the checks Node does not make (SAN matchers), the
// decrypted socket goes to the chain's terminal filter, with the negotiated ALPN.
//
// Bounded: a handshake that does not finish within the chain's transport_socket_connect_timeout (or the terminal's
// idle timeout) is closed (downstream_cx_transport_socket_connect_timeout); a handshake error closes the connection
// (ssl.connection_error). Nothing the peer sends reaches the terminal before the handshake completes.

import type net from "node:net";
import tls from "node:tls";
import type { Clock, Timer } from "../../api/clock.ts";
import type { DownstreamTlsContext } from "../../api/xds/parse/tls-context.ts";
import type { Counter } from "../../telemetry/stats.ts";
import { sanMatches, SecretNotReady, subjectAltNames, TlsContextProvider, type ResolvedTls } from "./context.ts";
import type { SecretStore } from "./secrets.ts";
import type { SslStats } from "./stats.ts";

export interface DownstreamTlsOptions {
  clock: Clock;
  /** 0: none. */
  handshakeTimeoutMs: number;
  stats: SslStats;
  /** listener.<address>.downstream_cx_transport_socket_connect_timeout. */
  connectTimeouts: Counter;
  log: (line: string) => void;
  /** "listener x filter chain y", in log lines. */
  owner: string;
}

export class DownstreamTls {
  readonly provider: TlsContextProvider;
  /** Connections in the handshake. */
  private readonly handshaking = new Set<net.Socket>();
  private lastContextError = "";

  constructor(
    private readonly config: DownstreamTlsContext,
    secrets: SecretStore,
    private readonly options: DownstreamTlsOptions,
  ) {
    this.provider = new TlsContextProvider(config.common, secrets, options.owner);
  }

  get pending(): number {
    return this.handshaking.size;
  }

  /**
   * Starts TLS on `socket` (`initial`: bytes the listener filters read, replayed first). `onSecure` gets the
   * decrypted socket once the handshake and the peer checks passed; otherwise the connection is closed here.
   */
  accept(socket: net.Socket, initial: Buffer | undefined, onSecure: (secure: tls.TLSSocket) => void): void {
    const stats = this.options.stats;
    let resolved: ResolvedTls;
    try {
      resolved = this.provider.current();
    } catch (err) {
      if (err instanceof SecretNotReady) stats.secretsNotReady.inc();
      else {
        stats.connectionError.inc();
        const message = (err as Error).message;
        // Logged once per distinct problem: a broken context would otherwise log every connection.
        if (message !== this.lastContextError) this.options.log(`${this.options.owner}: TLS context: ${message}`);
        this.lastContextError = message;
      }
      socket.on("error", noop);
      socket.destroy();
      return;
    }
    socket.on("error", noop);
    // Paused, so the replayed bytes wait in the socket's buffer for TLS (Node feeds buffered bytes to it).
    socket.pause();
    if (initial !== undefined && initial.length > 0) socket.unshift(initial);
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: resolved.secureContext,
      requestCert: resolved.validates,
      rejectUnauthorized: false,
      ...(resolved.alpn === undefined ? {} : { ALPNProtocols: resolved.alpn }),
    });
    this.handshaking.add(socket);
    let timer: Timer | undefined;
    let done = false;
    const fail = (counter: Counter | undefined): void => {
      if (done) return;
      done = true;
      timer?.cancel();
      this.handshaking.delete(socket);
      counter?.inc();
      secure.on("error", noop);
      secure.destroy();
      socket.destroy();
    };
    secure.on("error", () => fail(stats.connectionError));
    secure.once("close", () => fail(undefined));
    // The peer closed (or half-closed) before the handshake finished: nothing more can come of it.
    secure.once("end", () => fail(undefined));
    if (this.options.handshakeTimeoutMs > 0)
      timer = this.options.clock.setTimer(this.options.handshakeTimeoutMs, () => fail(this.options.connectTimeouts));
    secure.once("secure", () => {
      if (done) return;
      const verdict = this.judgePeer(secure, resolved);
      if (verdict !== undefined) return fail(verdict);
      done = true;
      timer?.cancel();
      this.handshaking.delete(socket);
      // Node clears this only for sockets of a tls.Server; node:http2 would wait for a 'secureConnect' that a
      // server socket never emits.
      (secure as unknown as { secureConnecting: boolean }).secureConnecting = false;
      secure.removeAllListeners("error");
      secure.removeAllListeners("close");
      secure.removeAllListeners("end");
      stats.connected(secure);
      onSecure(secure);
    });
  }

  /** The client certificate against the validation context: undefined when it passes, else the counter of why not. */
  private judgePeer(secure: tls.TLSSocket, resolved: ResolvedTls): Counter | undefined {
    const stats = this.options.stats;
    if (!resolved.validates) return undefined;
    const peer = secure.getPeerX509Certificate();
    if (peer === undefined) {
      if (this.config.requireClientCertificate) return stats.failVerifyNoCert;
      stats.noCertificate.inc();
      return undefined;
    }
    if (resolved.verifyChain && chainError(secure) !== null) return stats.failVerifyError;
    if (!sanMatches(subjectAltNames(peer), resolved.sanMatchers)) return stats.failVerifySan;
    return undefined;
  }

  /** Ends every handshake in progress. */
  destroy(): void {
    for (const s of this.handshaking) s.destroy();
    this.handshaking.clear();
  }
}

/**
 * OpenSSL's verdict on the peer's chain against trusted_ca (null: trusted). `authorized` is set only on sockets of a
 * tls.Server, so this asks the TLS handle as tls.Server does; without one the chain counts as untrusted.
 */
function chainError(secure: tls.TLSSocket): Error | null {
  const handle = (secure as unknown as { _handle?: { verifyError?: () => Error | null } | null })._handle;
  if (typeof handle?.verifyError !== "function") return new Error("the TLS handle is gone");
  return handle.verifyError();
}

function noop(): void {}
