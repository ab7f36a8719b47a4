import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { GatewaySpec } from "./types.ts";
import { assertSpecProblems, specOf } from "./testing.ts";

describe("Gateway", () => {
  test("bookinfo's gateway and a TLS server with a credential", () => {
    const spec = specOf<GatewaySpec>("Gateway", {
      selector: { istio: "ingressgateway" },
      servers: [
        { port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["*"] },
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: ["bookinfo/*.example.com"],
          tls: { mode: "SIMPLE", credentialName: "bookinfo-cert", minProtocolVersion: "TLSV1_2" },
        },
      ],
    });
    assert.deepEqual(spec.selector, { istio: "ingressgateway" });
    assert.deepEqual(spec.servers[0], { port: { number: 8080, protocol: "HTTP", name: "http" }, hosts: ["*"] });
    assert.deepEqual(spec.servers[1].tls, {
      subjectAltNames: [],
      cipherSuites: [],
      verifyCertificateSpki: [],
      verifyCertificateHash: [],
      credentialNames: [],
      mode: "SIMPLE",
      credentialName: "bookinfo-cert",
      minProtocolVersion: "TLSV1_2",
    });
  });

  test("refused: no servers, a port without protocol, no hosts, TLS termination without certificate", () => {
    assertSpecProblems("Gateway", { selector: { istio: "ingressgateway" } }, [
      ["spec.servers", "required: at least one server"],
    ]);
    assertSpecProblems(
      "Gateway",
      {
        servers: [
          { port: { number: 80, name: "http" } },
          {
            port: { number: 443, name: "https", protocol: "HTTPS" },
            hosts: ["a.example.com"],
            tls: { mode: "SIMPLE" },
          },
          { port: { number: 8443, name: "tls", protocol: "TLS" }, hosts: ["b.example.com"], tls: {} },
          { hosts: ["c"] },
        ],
      },
      [
        ["spec.servers[0].port.protocol", "required"],
        ["spec.servers[0].hosts", "required: at least one host"],
        ["spec.servers[1].tls.serverCertificate", "required when mode is SIMPLE (or give credentialName)"],
        ["spec.servers[1].tls.privateKey", "required when mode is SIMPLE (or give credentialName)"],
        ["spec.servers[2].tls.mode", "required for a TLS port"],
        ["spec.servers[3].port", "required"],
      ],
    );
  });
});
