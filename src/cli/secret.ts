// TLS secrets for gateways: `trellis create secret tls NAME [-n NS] --cert FILE --key FILE` (checked and stored by
// the control plane: both PEMs parse, the key is the certificate's, expiry said), `trellis get secrets [NAME]`
// (name, type, hosts from the certificate's SANs, expiry; never the key), `trellis delete secret NAME`.
// docs/gateways.md.

import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { table } from "./table.ts";

export interface CreateSecretOptions {
  namespace?: string;
  cert?: string;
  key?: string;
  ca?: string;
}

interface SecretView {
  namespace: string;
  name: string;
  type: string;
  hosts: string[];
  notAfter: string;
  expired: boolean;
}

const SECRET_NAMES = ["secret", "secrets"];

export function isSecrets(typed: string): boolean {
  return SECRET_NAMES.includes(typed.toLowerCase());
}

function fail(verb: string, err: unknown): number {
  if (err instanceof TrellisError) {
    process.stderr.write(`trellis ${verb}: ${err.message}\n`);
    return 1;
  }
  throw err;
}

export async function runCreateSecretTls(name: string, options: CreateSecretOptions): Promise<number> {
  if (options.cert === undefined || options.key === undefined) {
    process.stderr.write("trellis create secret tls: --cert FILE and --key FILE are required\n");
    return 2;
  }
  let cert: string;
  let key: string;
  let ca: string | undefined;
  try {
    cert = readFileSync(options.cert, "utf8");
    key = readFileSync(options.key, "utf8");
    if (options.ca !== undefined) ca = readFileSync(options.ca, "utf8");
  } catch (err) {
    process.stderr.write(
      `trellis create secret tls: cannot read ${(err as { path?: string }).path ?? "a file"}: ${(err as Error).message}\n`,
    );
    return 1;
  }
  const namespace = options.namespace ?? "default";
  try {
    const reply = await callControl("POST", "/api/v1/secrets", {
      namespace,
      name,
      type: "tls",
      cert,
      key,
      certName: options.cert,
      keyName: options.key,
      ...(ca !== undefined ? { ca, caName: options.ca } : {}),
    });
    if (reportErrors("create secret tls", reply) !== 0) return 1;
    for (const w of (reply.json.warnings as string[] | undefined) ?? []) process.stderr.write(`Warning: ${w}\n`);
    const view = reply.json.secret as SecretView;
    process.stdout.write(
      `secret/${name} (${namespace}) ${String(reply.json.action)}: ${view.type}, hosts ${view.hosts.join(", ") || "(none)"}, expires ${view.notAfter}\n`,
    );
    return 0;
  } catch (err) {
    return fail("create secret tls", err);
  }
}

export interface GetSecretsOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: "yaml" | "json";
}

export async function runGetSecrets(name: string | undefined, options: GetSecretsOptions): Promise<number> {
  const namespace = options.allNamespaces ? undefined : (options.namespace ?? "default");
  try {
    let items: SecretView[];
    if (name !== undefined) {
      const reply = await callControl("GET", `/api/v1/secrets/${namespace ?? "default"}/${encodeURIComponent(name)}`);
      if (reportErrors("get", reply) !== 0) return 1;
      items = [reply.json as unknown as SecretView];
    } else {
      const query = namespace === undefined ? "" : `?${new URLSearchParams({ namespace })}`;
      const reply = await callControl("GET", `/api/v1/secrets${query}`);
      if (reportErrors("get", reply) !== 0) return 1;
      items = (reply.json.items as SecretView[]) ?? [];
    }
    const output = options.output ?? "table";
    if (output === "json")
      process.stdout.write(`${JSON.stringify(name !== undefined ? items[0] : { items }, null, 2)}\n`);
    else if (output === "yaml") process.stdout.write(items.map((i) => stringify(i)).join("---\n"));
    else if (items.length === 0) process.stdout.write("No secrets found.\n");
    else
      process.stdout.write(
        table(
          ["NAMESPACE", "NAME", "TYPE", "HOSTS", "EXPIRES"],
          items.map((s) => [
            s.namespace,
            s.name,
            s.type,
            s.hosts.join(",") || "-",
            `${s.notAfter}${s.expired ? " (expired)" : ""}`,
          ]),
        ),
      );
    return 0;
  } catch (err) {
    return fail("get", err);
  }
}

export async function runDeleteSecret(name: string, namespace: string): Promise<number> {
  try {
    const reply = await callControl(
      "DELETE",
      `/api/v1/secrets/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
    );
    if (reportErrors("delete", reply) !== 0) return 1;
    process.stdout.write(`secret/${name} (${namespace}) deleted\n`);
    return 0;
  } catch (err) {
    return fail("delete", err);
  }
}
