// Certificates for TLS tests, made fresh by the openssl CLI in a temporary directory: a test CA, leaves it signed
// (each with the SANs asked for), and a self-signed one it did not. EC P-256, so generating them is fast.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pem {
  cert: string;
  key: string;
  /** Where the two are on disk (for filename data sources). */
  certFile: string;
  keyFile: string;
}

export interface TestPki {
  dir: string;
  ca: Pem;
  /** A leaf signed by the CA with these SANs ("DNS:a.example.com", "URI:spiffe://…"). */
  leaf(name: string, sans: readonly string[]): Pem;
  /** A self-signed certificate (not from the CA) with these SANs. */
  selfSigned(name: string, sans: readonly string[]): Pem;
  close(): void;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function read(dir: string, name: string): Pem {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8"), certFile, keyFile };
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "trellis-tls-"));
  openssl(
    [
      "req",
      "-x509",
      ...EC,
      "-days",
      "3650",
      "-subj",
      "/CN=trellis test ca",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  return {
    dir,
    ca: read(dir, "ca"),
    leaf(name, sans) {
      openssl(["req", ...EC, "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`], dir);
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${sans.join(",")}\nbasicConstraints=CA:FALSE\n`);
      openssl(
        [
          "x509",
          "-req",
          "-in",
          `${name}.csr`,
          "-CA",
          "ca.pem",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
          "-days",
          "3650",
          "-extfile",
          `${name}.ext`,
          "-out",
          `${name}.pem`,
        ],
        dir,
      );
      return read(dir, name);
    },
    selfSigned(name, sans) {
      openssl(
        [
          "req",
          "-x509",
          ...EC,
          "-days",
          "3650",
          "-subj",
          `/CN=${name}`,
          "-keyout",
          `${name}.key`,
          "-out",
          `${name}.pem`,
          "-addext",
          `subjectAltName=${sans.join(",")}`,
        ],
        dir,
      );
      return read(dir, name);
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
