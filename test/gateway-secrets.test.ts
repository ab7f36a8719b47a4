// TLS secrets for gateways through the real CLI against a real control plane in this process: `create secret tls`
// checks what it stores (PEM, key matches certificate, expiry), `get secrets` shows name, type, hosts and expiry,
// `delete secret` removes it. The key never appears in any CLI output nor any API answer a person reads (the
// generic resources API, proxy-config, the gateway's own admin config_dump) — grepped, not assumed — while the
// gateway it is for gets it over SDS. A Gateway whose credentialName has no secret is reported (IST0101).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/control/control-plane.ts";
import { SECRET_TYPE_URL } from "../src/control/secrets.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { spawnGateway } from "./support/gateway-child.ts";
import { runCli } from "./support/cli-main.ts";
import { TEST_CERT, TEST_KEY } from "./support/test-certificate.ts";
import { freePort, until } from "./support/polling.ts";

/** Lines of the key's PEM body: none may appear anywhere a person reads, nor their base64 re-encoding. */
const KEY_LINES = TEST_KEY.trim()
  .split("\n")
  .filter((l) => !l.startsWith("-----"));
const KEY_B64 = Buffer.from(TEST_KEY).toString("base64");

function assertNoKey(text: string, where: string): void {
  assert.doesNotMatch(text, /PRIVATE KEY/, `${where} shows a private key`);
  for (const line of KEY_LINES) assert.ok(!text.includes(line), `${where} shows the key (${line.slice(0, 12)}…)`);
  assert.ok(!text.includes(KEY_B64.slice(0, 40)), `${where} shows the key in base64`);
}

describe("TLS secrets for gateways", () => {
  let dir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let control: string;
  let certFile: string;
  let keyFile: string;
  let gateway: ChildProcess | undefined;
  let gatewayLog = "";
  const outputs: string[] = [];
  const cli = async (...args: string[]) => {
    const r = await runCli(control, ...args);
    outputs.push(`$ trellis ${args.join(" ")}\n${r.stdout}${r.stderr}`);
    return r;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-secrets-"));
    store = await EmbeddedStore.open({ dataDir: join(dir, "data") });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    control = `http://127.0.0.1:${cp.apiPort}`;
    certFile = join(dir, "web.crt");
    keyFile = join(dir, "web.key");
    writeFileSync(certFile, TEST_CERT);
    writeFileSync(keyFile, TEST_KEY);
  });

  after(async () => {
    if (gateway !== undefined && gateway.exitCode === null) gateway.kill("SIGKILL");
    await cp.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("create secret tls refuses what it cannot use, naming the file and what was expected; nothing is stored", async () => {
    const other = join(dir, "other.key");
    writeFileSync(
      other,
      generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }),
    );
    const mismatch = await cli("create", "secret", "tls", "web-cert", "--cert", certFile, "--key", other);
    assert.equal(mismatch.code, 1);
    assert.match(
      mismatch.stderr,
      new RegExp(`${other.replace(/[.]/g, "\\.")}: the key is not the private key of the certificate in`),
    );
    const notPem = join(dir, "not.crt");
    writeFileSync(notPem, "hello\n");
    const bad = await cli("create", "secret", "tls", "web-cert", "--cert", notPem, "--key", keyFile);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not\.crt: expected a PEM certificate/);
    const missing = await cli("create", "secret", "tls", "web-cert", "--cert", certFile);
    assert.equal(missing.code, 2);
    assert.equal((await cli("get", "secrets")).stdout, "No secrets found.\n");
  });

  test("a Gateway whose credentialName has no secret is reported (IST0101), before any gateway runs", async () => {
    const file = join(dir, "gw.yaml");
    writeFileSync(
      file,
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: secure }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 443, name: https, protocol: HTTPS }
      hosts: [web.example.com]
      tls: { mode: SIMPLE, credentialName: web-cert }
`,
    );
    const applied = await cli("apply", "-f", file);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(
      applied.stderr + applied.stdout,
      /credentialName: secret default\/web-cert not found .*\(IST0101 ReferencedResourceNotFound; for a gateway for Gateway default\/secure\)/,
    );
  });

  test("create, get (table, json, yaml), served over SDS to the gateway that names it; the key shown nowhere", async () => {
    const created = await cli("create", "secret", "tls", "web-cert", "--cert", certFile, "--key", keyFile);
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stdout,
      /^secret\/web-cert \(default\) created: kubernetes\.io\/tls, hosts \*\.example\.com, example\.com, expires 2126-/,
    );
    const table = await cli("get", "secrets");
    assert.match(
      table.stdout,
      /^NAMESPACE +NAME +TYPE +HOSTS +EXPIRES\ndefault +web-cert +kubernetes\.io\/tls +\*\.example\.com,example\.com +2126-/,
    );
    const json = await cli("get", "secret", "web-cert", "-o", "json");
    const view = JSON.parse(json.stdout) as { hosts: string[]; expired: boolean; fingerprint: string };
    assert.deepEqual(view.hosts, ["*.example.com", "example.com"]);
    assert.equal(view.expired, false);
    assert.match(view.fingerprint, /^[0-9a-f]{64}$/);
    await cli("get", "secrets", "-A", "-o", "yaml");
    // The generic resources API does not show the stored Secret, by list or by name.
    const all = await fetch(`${control}/api/v1/resources`).then((r) => r.text());
    assertNoKey(all, "GET /api/v1/resources");
    const byName = await fetch(`${control}/api/v1/resources/Secret/default/web-cert`);
    assert.equal(byName.status, 404);
    assertNoKey(await byName.text(), "GET /api/v1/resources/Secret/default/web-cert");

    // A gateway: the control plane's snapshot for it holds the SDS secret (certificate and key), by Istio's name.
    const adminPort = await freePort();
    gateway = spawnGateway(
      ["--name", "ingress", "--port", `https=443:${await freePort()}`, "--admin-port", String(adminPort)],
      cp.xdsPort,
      control,
      (text) => (gatewayLog += text),
    );
    const proxy = await until("the gateway connected", () => cp.proxies().find((p) => p.nodeId.startsWith("router~")));
    const snapshot = cp.snapshotFor({
      id: proxy.nodeId,
      cluster: proxy.cluster,
      metadata: proxy.metadata,
      userAgentName: "",
    });
    const sds = snapshot.get(SECRET_TYPE_URL)?.get("kubernetes://web-cert") as
      { tls_certificate: { private_key: { inline_string: string } } } | undefined;
    assert.equal(sds?.tls_certificate.private_key.inline_string, TEST_KEY, "the gateway is sent its key over SDS");

    const secrets = await cli("proxy-config", "secrets", proxy.nodeId, "-o", "json");
    assert.equal(secrets.code, 0, secrets.stderr);
    const items = JSON.parse(secrets.stdout) as {
      name: string;
      tls_certificate: { private_key: unknown; certificate_chain: unknown };
    }[];
    assert.deepEqual(
      items.map((i) => i.name),
      ["kubernetes://web-cert"],
    );
    assert.deepEqual(items[0]!.tls_certificate.private_key, { inline_string: "[redacted]" });
    for (const type of ["listeners", "routes", "clusters", "endpoints", "secrets"]) {
      await cli("proxy-config", type, proxy.nodeId);
      await cli("proxy-config", type, proxy.nodeId, "-o", "yaml");
    }
    await cli("proxy-status");
    await cli("proxy-status", proxy.nodeId, "-o", "yaml");
    await cli("get", "gateways", "-o", "yaml");
    await cli("analyze");
    const dump = await fetch(`http://127.0.0.1:${adminPort}/config_dump`).then((r) => r.text());
    assertNoKey(dump, "the gateway's /config_dump");
    for (const text of outputs) assertNoKey(text, text.split("\n")[0]!);
    assertNoKey(gatewayLog, "the gateway's log");
  });

  test("delete secret removes it; the Gateway's credentialName is reported missing again", async () => {
    const deleted = await cli("delete", "secret", "web-cert");
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, "secret/web-cert (default) deleted\n");
    assert.equal((await cli("get", "secrets")).stdout, "No secrets found.\n");
    assert.equal((await cli("delete", "secret", "web-cert")).code, 1);
    const status = await until("IST0101 in proxy-status", async () => {
      const r = await cli("proxy-status", "-o", "json");
      return /secret default\/web-cert not found/.test(r.stdout) ? r : undefined;
    });
    assert.match(status.stdout, /IST0101/);
  });
});
