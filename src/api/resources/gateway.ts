// Gateway (networking.istio.io): a load balancer at the mesh's edge — which ports it opens, for which hosts, with
// which TLS. Trellis reads and validates it so files that carry one apply cleanly.

import { isIP } from "node:net";
import type { GatewayServer, GatewaySpec, ServerTLSSettings } from "./types.ts";
import { SERVER_TLS_MODES } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { readHosts, readLabels } from "./common.ts";
import { readGatewayPort } from "./service-entry.ts";
import { assign } from "./traffic-policy.ts";
import { describe } from "../xds/parse/context.ts";

const TLS = {
  known: [
    "httpsRedirect",
    "mode",
    "serverCertificate",
    "privateKey",
    "caCertificates",
    "credentialName",
    "subjectAltNames",
    "minProtocolVersion",
    "maxProtocolVersion",
    "cipherSuites",
    "verifyCertificateSpki",
    "verifyCertificateHash",
    "credentialNames",
    "caCrl",
  ],
};
const TLS_VERSIONS = ["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"] as const;

export function readGatewaySpec(ctx: ResourceContext, raw: unknown, path: string): GatewaySpec {
  const f = SpecFields.open(ctx, raw, path, { known: ["selector", "servers"] });
  if (!f.broken && !f.has("servers")) f.error("servers", "required: at least one server");
  else if (Array.isArray(f.raw("servers")) && (f.raw("servers") as unknown[]).length === 0) {
    f.error("servers", "expected at least one server");
  }
  const servers = f.list("servers").map((item): GatewayServer => {
    const s = SpecFields.open(ctx, item.value, item.path, {
      known: ["port", "bind", "hosts", "tls", "name", "defaultEndpoint"],
    });
    const server: GatewayServer = {
      port: s.require("port")
        ? readGatewayPort(ctx, { value: s.raw("port"), path: s.at("port") })
        : { number: 0, protocol: "TCP", name: "" },
      hosts: readHosts(s, "hosts", true, true),
    };
    assign(server, "bind", s.string("bind"));
    if (server.bind !== undefined && server.bind !== "" && isIP(server.bind) === 0)
      s.error("bind", `expected an IP address to bind to, got ${describe(server.bind)}`);
    assign(server, "name", s.string("name"));
    assign(server, "defaultEndpoint", s.string("defaultEndpoint"));
    if (server.port.targetPort !== undefined)
      ctx.error(`${s.at("port")}.targetPort`, "has no effect on a Gateway (Istio refuses it)");
    if (s.has("tls")) {
      server.tls = readServerTls(s.message("tls", TLS), server.port.protocol);
      checkTlsForProtocol(s, server);
    } else if (TLS_PORTS.has(server.port.protocol)) s.error("tls", `required for a ${server.port.protocol} port`);
    return server;
  });
  const names = new Set<string>();
  servers.forEach((server, i) => {
    const name = server.port.name;
    if (name !== "" && names.has(name))
      ctx.error(`${f.at("servers")}[${i}].port.name`, `port name "${name}" is used by another server`);
    names.add(name);
  });
  return { selector: readLabels(f, "selector"), servers };
}

const TLS_PORTS = new Set(["HTTPS", "TLS"]);
const HTTP_PORTS = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB"]);

/** Istio: TLS settings belong to HTTPS/TLS ports; a plain HTTP port may only carry httpsRedirect. */
function checkTlsForProtocol(s: SpecFields, server: GatewayServer): void {
  const tls = server.tls!;
  const protocol = server.port.protocol;
  if (tls.httpsRedirect === true && !HTTP_PORTS.has(protocol))
    s.warn("tls.httpsRedirect", "only has an effect on HTTP servers");
  if (TLS_PORTS.has(protocol)) return;
  if (HTTP_PORTS.has(protocol)) {
    const passthrough = tls.mode === undefined || tls.mode === "PASSTHROUGH" || tls.mode === "AUTO_PASSTHROUGH";
    const certificates = [tls.caCertificates, tls.privateKey, tls.serverCertificate].some((v) => (v ?? "") !== "");
    if (!passthrough || certificates)
      s.error("tls", `TLS settings are not allowed on a plain ${protocol} port (only httpsRedirect)`);
  } else s.error("tls", `TLS settings are only allowed on HTTPS and TLS ports, got ${protocol}`);
}

function readServerTls(f: SpecFields, protocol: string): ServerTLSSettings {
  const out: ServerTLSSettings = {
    subjectAltNames: f.stringList("subjectAltNames"),
    cipherSuites: f.stringList("cipherSuites"),
    verifyCertificateSpki: f.stringList("verifyCertificateSpki"),
    verifyCertificateHash: f.stringList("verifyCertificateHash"),
    credentialNames: f.stringList("credentialNames"),
  };
  f.oneOf(["credentialName", "credentialNames"], false);
  assign(out, "caCrl", f.string("caCrl"));
  assign(out, "httpsRedirect", f.bool("httpsRedirect"));
  assign(out, "mode", f.enumValue("mode", SERVER_TLS_MODES));
  for (const field of ["serverCertificate", "privateKey", "caCertificates", "credentialName"] as const) {
    assign(out, field, f.string(field));
  }
  assign(out, "minProtocolVersion", f.enumValue("minProtocolVersion", TLS_VERSIONS));
  assign(out, "maxProtocolVersion", f.enumValue("maxProtocolVersion", TLS_VERSIONS));
  const terminates = out.mode === "SIMPLE" || out.mode === "MUTUAL" || out.mode === "OPTIONAL_MUTUAL";
  if (terminates && out.credentialName === undefined && out.credentialNames.length === 0) {
    if (out.serverCertificate === undefined)
      f.error("serverCertificate", `required when mode is ${out.mode} (or give credentialName)`);
    if (out.privateKey === undefined)
      f.error("privateKey", `required when mode is ${out.mode} (or give credentialName)`);
  }
  if ((protocol === "HTTPS" || protocol === "TLS") && out.mode === undefined && out.httpsRedirect !== true) {
    f.error("mode", `required for a ${protocol} port`);
  }
  checkServerTls(f, out);
  return out;
}

/** Cipher suite names Istio's gateways accept (BoringSSL's names, without PSK suites). */
const CIPHER_SUITES = new Set([
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-SHA",
  "ECDHE-RSA-AES128-SHA",
  "ECDHE-ECDSA-AES256-SHA",
  "ECDHE-RSA-AES256-SHA",
  "AES128-GCM-SHA256",
  "AES256-GCM-SHA384",
  "AES128-SHA",
  "AES256-SHA",
  "DES-CBC3-SHA",
]);

/** Istio's validateTLSOptions: one certificate source, what each mode needs and cannot have; cipher warnings. */
function checkServerTls(f: SpecFields, tls: ServerTLSSettings): void {
  const unknown = tls.cipherSuites.filter(
    (c) => c !== "" && c !== "ALL" && /^[A-Za-z0-9]/.test(c) && !CIPHER_SUITES.has(c),
  );
  if (unknown.length > 0) f.warn("cipherSuites", `unknown cipher suites ignored: ${unknown.join(", ")}`);
  const twice = tls.cipherSuites.filter((c, i) => tls.cipherSuites.indexOf(c) < i);
  if (twice.length > 0) f.warn("cipherSuites", `cipher suites listed twice: ${[...new Set(twice)].join(", ")}`);
  if ((tls.minProtocolVersion === "TLSV1_0" || tls.minProtocolVersion === "TLSV1_1") && tls.cipherSuites.length === 0)
    f.warn("minProtocolVersion", "TLS versions below 1.2 need cipherSuites that they support (the defaults have none)");
  const files = (["serverCertificate", "privateKey", "caCertificates"] as const).filter((n) => tls[n] !== undefined);
  const credential = tls.credentialName !== undefined || tls.credentialNames.length > 0;
  if (tls.mode === "ISTIO_MUTUAL") {
    for (const name of [...files, ...(credential ? ["credentialName"] : [])])
      f.error(name, "not allowed with mode ISTIO_MUTUAL (the mesh's own certificates are used)");
    return;
  }
  if (
    (tls.mode === "PASSTHROUGH" || tls.mode === "AUTO_PASSTHROUGH") &&
    (files.length > 0 || credential || tls.caCrl !== undefined)
  )
    f.warn("mode", `${tls.mode} does not terminate TLS: the certificates are not used`);
  if (tls.serverCertificate !== undefined && tls.privateKey !== undefined && credential)
    f.error("credentialName", "only one certificate source: credentialName(s) or serverCertificate and privateKey");
  const mutual = tls.mode === "MUTUAL" || tls.mode === "OPTIONAL_MUTUAL";
  if (mutual && !credential && tls.caCertificates === undefined)
    f.error(
      "caCertificates",
      `required when mode is ${tls.mode} (the CA that signs client certificates; or give credentialName)`,
    );
  if (tls.caCrl !== undefined) {
    if (tls.credentialName !== undefined)
      f.error("caCrl", "not supported with credentialName (put the CRL in the credential)");
    if (tls.mode === "SIMPLE") f.error("caCrl", "not supported with mode SIMPLE");
  }
}
