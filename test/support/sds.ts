// SDS over ADS from the proxy's side, for the tests that serve a listener's certificate as a secret (tls-sds over
// state-of-the-world, tls-sds-delta over delta xDS): the listener naming its secret with sds_config {ads: {}}, the
// secret itself, and a keep-alive TLS client that reads whole answers.
import tls from "node:tls";
import { SECRET_TYPE_URL } from "../../src/api/xds/parse/secret.ts";
import type { Pem } from "./tls-certs.ts";
import { socketAddress, type Raw } from "./envoy-config.ts";

const DOWNSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

/** A listener on port 0 terminating TLS with the secret `secretName` (fetched over ADS), routing all to "echo". */
export function sdsTlsListener(name: string, secretName: string): Raw {
  return {
    name,
    address: socketAddress(0),
    filter_chains: [
      {
        transport_socket: {
          name: "envoy.transport_sockets.tls",
          typed_config: {
            "@type": DOWNSTREAM_TLS,
            common_tls_context: {
              tls_certificate_sds_secret_configs: [{ name: secretName, sds_config: { ads: {} } }],
              alpn_protocols: ["http/1.1"],
            },
          },
        },
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": HCM,
              stat_prefix: name,
              route_config: {
                name: "r",
                virtual_hosts: [
                  { name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "echo" } }] },
                ],
              },
            },
          },
        ],
      },
    ],
  };
}

/** A tls_certificate secret carrying `pem` (with another `key` to make a bad one). */
export function tlsSecret(name: string, pem: Pem, key = pem.key): Raw {
  return {
    "@type": SECRET_TYPE_URL,
    name,
    tls_certificate: { certificate_chain: { inline_string: pem.cert }, private_key: { inline_string: key } },
  };
}

/** A TLS connection to gw.example.com on 127.0.0.1:`port`, kept open; resolves once the handshake is done. */
export function openTls(port: number, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: "127.0.0.1", port, servername: "gw.example.com", ca, ALPNProtocols: ["http/1.1"] },
      () => resolve(s),
    );
    s.once("error", reject);
  });
}

/** One keep-alive request on `socket`: the status of its answer, once the whole answer (content-length) came. */
export function requestOn(socket: tls.TLSSocket): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (c: Buffer): void => {
      text += c.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? "0");
      if (text.length < end + 4 + length) return;
      socket.off("data", onData);
      resolve(Number(text.slice(9, 12)));
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.write("GET / HTTP/1.1\r\nhost: gw.example.com\r\n\r\n");
  });
}
