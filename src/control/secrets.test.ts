// The TLS secret checks and shapes (secrets.ts): what `create secret tls` refuses and warns about, the summary
// everyone sees, the SDS Secret a gateway is sent, and its redacted form.

import { test } from "node:test";
import assert from "node:assert/strict";
import { TEST_CERT, TEST_KEY } from "../../test/support/test-certificate.ts";
import { checkTlsPair, redactSecret, sdsSecret, SecretError, secretView, storedTlsSecret } from "./secrets.ts";

const where = { certName: "web.crt", keyName: "web.key" };

test("a matching pair is accepted; an expired or not-yet-valid certificate is stored with a warning", () => {
  assert.deepEqual(checkTlsPair(TEST_CERT, TEST_KEY, where, new Date("2027-01-01")).warnings, []);
  assert.match(
    checkTlsPair(TEST_CERT, TEST_KEY, where, new Date("2200-01-01")).warnings[0]!,
    /^web\.crt: the certificate expired on 2126-/,
  );
  assert.match(
    checkTlsPair(TEST_CERT, TEST_KEY, where, new Date("2000-01-01")).warnings[0]!,
    /^web\.crt: the certificate is not valid before 2026-/,
  );
});

test("refusals name the file and what was expected, every problem at once", () => {
  const problems = (cert: string, key: string): readonly string[] => {
    try {
      checkTlsPair(cert, key, where);
    } catch (err) {
      assert.ok(err instanceof SecretError);
      assert.equal(err.code, "TRELLIS_SECRET_INVALID");
      return err.problems;
    }
    assert.fail("accepted");
  };
  assert.deepEqual(
    problems("not a certificate", "not a key").map((p) => p.split(":")[0]),
    ["web.crt", "web.key"],
  );
  assert.match(
    problems(TEST_CERT.replace("MIIBxTCC", "MIIBxTCD"), TEST_KEY)[0]!,
    /^web\.crt: certificate 1 does not parse/,
  );
});

test("the summary shows hosts and expiry, never the key; the SDS secret carries it; the redacted one does not", () => {
  const stored = {
    ...storedTlsSecret("default", "web-cert", TEST_CERT, TEST_KEY),
    metadata: { name: "web-cert", namespace: "default", resourceVersion: "7" },
  };
  assert.equal((stored.spec as { type: string }).type, "kubernetes.io/tls");
  const view = secretView(stored, new Date("2027-01-01"))!;
  assert.deepEqual(view.hosts, ["*.example.com", "example.com"]);
  assert.equal(view.expired, false);
  assert.equal(view.resourceVersion, "7");
  assert.doesNotMatch(JSON.stringify(view), /PRIVATE|MIGHAgEA/);
  const sds = sdsSecret(stored, "kubernetes://web-cert")!;
  assert.deepEqual(sds.tls_certificate, {
    certificate_chain: { inline_string: TEST_CERT },
    private_key: { inline_string: TEST_KEY },
  });
  assert.equal(sdsSecret(stored, "kubernetes://web-cert-cacert"), undefined, "no ca.crt: no validation context");
  const redacted = redactSecret(sds);
  assert.doesNotMatch(JSON.stringify(redacted), /PRIVATE KEY/);
  assert.equal(
    (sds.tls_certificate as { private_key: { inline_string: string } }).private_key.inline_string,
    TEST_KEY,
    "the original is left alone",
  );
});

test("ca.crt: checked when given, counted in the summary, sent as the -cacert validation context; a separate NAME-cacert secret's certificate serves too", () => {
  assert.throws(
    () => checkTlsPair(TEST_CERT, TEST_KEY, { ...where, caName: "ca.pem" }, new Date("2027-01-01"), "nope"),
    /ca\.pem: expected PEM CA certificates/,
  );
  const withCa = storedTlsSecret("default", "mtls", TEST_CERT, TEST_KEY, TEST_CERT);
  assert.equal(secretView(withCa)!.caCertificates, 1);
  assert.deepEqual(sdsSecret(withCa, "kubernetes://mtls-cacert"), {
    name: "kubernetes://mtls-cacert",
    validation_context: { trusted_ca: { inline_string: TEST_CERT } },
  });
  const without = storedTlsSecret("default", "plain", TEST_CERT, TEST_KEY);
  assert.equal(secretView(without)!.caCertificates, 0);
  assert.equal(sdsSecret(without, "kubernetes://plain-cacert"), undefined, "no CA: nothing to send");
  assert.deepEqual(
    sdsSecret(without, "kubernetes://x-cacert", true),
    { name: "kubernetes://x-cacert", validation_context: { trusted_ca: { inline_string: TEST_CERT } } },
    "a secret of its own named x-cacert: its certificate is the CA",
  );
});
