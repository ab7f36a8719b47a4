// The secrets' HTTP API (`trellis create secret tls`, `get secrets`, `delete secret`): a TLS secret is checked
// before it is stored (secrets.ts), and every answer is its summary — name, type, SANs, validity, fingerprint —
// never the key nor the certificate's bytes.

import type { ResourceStore } from "../store/types.ts";
import { checkTlsPair, SECRET_KIND, SecretError, secretView, storedTlsSecret, type SecretView } from "../secrets.ts";
import type { ApiRouter } from "./router.ts";

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

interface CreateBody {
  namespace?: unknown;
  name?: unknown;
  type?: unknown;
  cert?: unknown;
  key?: unknown;
  /** CA certificates (PEM) a MUTUAL server checks client certificates against; stored as ca.crt. */
  ca?: unknown;
  /** How the CLI names the files, for messages (default tls.crt, tls.key). */
  certName?: unknown;
  keyName?: unknown;
  caName?: unknown;
}

export function addSecretRoutes(router: ApiRouter, store: ResourceStore): void {
  router
    .add("POST", "/api/v1/secrets", async (req) => {
      let body: CreateBody;
      try {
        body = JSON.parse(req.body) as CreateBody;
      } catch (err) {
        return { status: 400, json: { errors: [`body: expected JSON (${(err as Error).message})`] } };
      }
      const errors: string[] = [];
      const namespace = typeof body.namespace === "string" ? body.namespace : "default";
      if (!DNS_LABEL.test(namespace))
        errors.push(`namespace: expected a DNS label, got ${JSON.stringify(body.namespace)}`);
      if (typeof body.name !== "string" || !DNS_SUBDOMAIN.test(body.name) || body.name.length > 253)
        errors.push(
          `name: expected a DNS subdomain (lower-case letters, digits, '-', '.'), got ${JSON.stringify(body.name)}`,
        );
      if ((body.type ?? "tls") !== "tls") errors.push(`type: expected tls, got ${JSON.stringify(body.type)}`);
      if (typeof body.cert !== "string") errors.push("cert: expected the certificate chain as PEM text");
      if (typeof body.key !== "string") errors.push("key: expected the private key as PEM text");
      if (body.ca !== undefined && typeof body.ca !== "string") errors.push("ca: expected CA certificates as PEM text");
      if (errors.length > 0) return { status: 400, json: { errors } };
      const where = {
        certName: typeof body.certName === "string" ? body.certName : "tls.crt",
        keyName: typeof body.keyName === "string" ? body.keyName : "tls.key",
        caName: typeof body.caName === "string" ? body.caName : "ca.crt",
      };
      const ca = typeof body.ca === "string" ? body.ca : undefined;
      let warnings: string[];
      try {
        warnings = checkTlsPair(body.cert as string, body.key as string, where, new Date(), ca).warnings;
      } catch (err) {
        if (err instanceof SecretError) return { status: 400, json: { errors: err.problems } };
        throw err;
      }
      const name = body.name as string;
      const existing = await store.get({ kind: SECRET_KIND, namespace, name });
      const stored = await store.put(storedTlsSecret(namespace, name, body.cert as string, body.key as string, ca));
      return {
        status: 200,
        json: { action: existing === undefined ? "created" : "configured", secret: secretView(stored), warnings },
      };
    })
    .add("GET", "/api/v1/secrets", async (req) => {
      const namespace = req.query.get("namespace") ?? undefined;
      const items = (await store.list(SECRET_KIND, namespace))
        .map((s) => secretView(s))
        .filter((v): v is SecretView => v !== undefined);
      return { status: 200, json: { items } };
    })
    .add("GET", "/api/v1/secrets/:namespace/:name", async (req) => {
      const { namespace, name } = req.params as { namespace: string; name: string };
      const found = await store.get({ kind: SECRET_KIND, namespace, name });
      const view = found === undefined ? undefined : secretView(found);
      return view === undefined
        ? { status: 404, json: { errors: [`secret ${namespace}/${name} not found`] } }
        : { status: 200, json: view };
    })
    .add("DELETE", "/api/v1/secrets/:namespace/:name", async (req) => {
      const { namespace, name } = req.params as { namespace: string; name: string };
      return (await store.delete({ kind: SECRET_KIND, namespace, name }))
        ? { status: 200, json: { deleted: `secret/${namespace}/${name}` } }
        : { status: 404, json: { errors: [`secret ${namespace}/${name} not found`] } };
    });
}
