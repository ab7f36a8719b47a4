import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseListener } from "./listener.ts";
import { parseSecret } from "./secret.ts";
import { assertIssues } from "./testing.ts";

const HCM = {
  name: "envoy.filters.network.http_connection_manager",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: "x",
    route_config: { name: "r", virtual_hosts: [] },
  },
};
const DOWNSTREAM = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const KEY = "-----BEGIN PRIVATE KEY-----\nsecret-key-bytes\n-----END PRIVATE KEY-----\n";

function listener(context: Record<string, unknown>): unknown {
  return parseListener({
    name: "l",
    address: { socket_address: { address: "127.0.0.1", port_value: 443 } },
    filter_chains: [
      {
        transport_socket: { name: "envoy.transport_sockets.tls", typed_config: { "@type": DOWNSTREAM, ...context } },
        filters: [HCM],
      },
    ],
  });
}

const TS = "filter_chains[0].transport_socket.typed_config";

describe("DownstreamTlsContext", () => {
  test("read into the chain: certificates, SDS references (ads or static), ALPN, versions, mTLS", () => {
    const l = listener({
      require_client_certificate: true,
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: "/c.pem" }, private_key: { inline_bytes: "a2V5" } }],
        tls_certificate_sds_secret_configs: [{ name: "a", sds_config: { ads: {} } }, { name: "b" }],
        combined_validation_context: {
          default_validation_context: { match_subject_alt_names: [{ prefix: "spiffe://td/" }] },
          validation_context_sds_secret_config: { name: "ROOTCA", sds_config: { ads: {} } },
        },
        alpn_protocols: ["h2", "http/1.1"],
        tls_params: { tls_minimum_protocol_version: "TLSv1_3" },
      },
    }) as { filterChains: { tls: Record<string, unknown> }[] };
    const tls = l.filterChains[0]!.tls as {
      requireClientCertificate: boolean;
      common: Record<string, unknown> & { certificates: { privateKey: { bytes: Buffer } }[] };
    };
    assert.equal(tls.requireClientCertificate, true);
    assert.equal(tls.common.certificates[0]!.privateKey.bytes.toString(), "key");
    assert.deepEqual(tls.common.certificateSds, [
      { name: "a", source: "ads" },
      { name: "b", source: "static" },
    ]);
    assert.deepEqual(tls.common.validationSds, { name: "ROOTCA", source: "ads" });
    assert.deepEqual(tls.common.alpnProtocols, ["h2", "http/1.1"]);
    assert.equal(tls.common.minVersion, "TLSv1.3");
  });

  test("errors name the field and never quote key material", () => {
    assertIssues(
      () =>
        listener({
          require_client_certificate: true,
          session_ticket_keys: {},
          common_tls_context: {
            tls_certificates: [{ certificate_chain: { inline_string: "x" }, private_key: { inline_bytes: KEY } }],
            tls_certificate_sds_secret_configs: [{ name: "a", sds_config: { path: "/x" } }],
            tls_params: { cipher_suites: ["[A|B]"] },
          },
        }),
      [
        [`${TS}.session_ticket_keys`, '"session_ticket_keys" is not supported yet'],
        [`${TS}.common_tls_context.tls_params.cipher_suites[0]`, /expected one OpenSSL cipher name/],
        [`${TS}.common_tls_context.tls_certificates[0].private_key.inline_bytes`, "expected base64"],
        [
          `${TS}.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.path`,
          '"path" is not supported yet',
        ],
        [`${TS}.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config`, /expected \{ads: \{\}\}/],
        [`${TS}.require_client_certificate`, /only be required with a validation_context/],
      ],
    );
    assertIssues(
      () => listener({ common_tls_context: {} }),
      [[`${TS}.common_tls_context`, /a server needs a certificate/]],
    );
  });

  test("a Secret: tls_certificate or validation_context; its key is never quoted", () => {
    const s = parseSecret({ name: "s", validation_context: { trusted_ca: { inline_string: "ca" } } });
    assert.equal(s.kind, "validation_context");
    try {
      parseSecret({
        name: "s",
        tls_certificate: { certificate_chain: { inline_string: "c" }, private_key: { inline_bytes: KEY } },
      });
      assert.fail("expected a ConfigError");
    } catch (err) {
      assert.ok(!JSON.stringify(err).includes("secret-key-bytes") && !String(err).includes("secret-key-bytes"));
      assert.match(String((err as Error).message), /secret s/);
    }
  });
});
