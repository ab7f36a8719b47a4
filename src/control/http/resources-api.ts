// The resources' HTTP API: apply (validate every document of every file, then store all of them in one atomic
// write, or none), get, list, delete. Validation is the caller's function (src/api/resources' loader), so a bad
// resource is answered 400 with its file, document, field path and expectation, and nothing stored changes.

import { isDeepStrictEqual } from "node:util";
import type { ResourceStore, StoredResource } from "../store/types.ts";
import type { ReportedProblem } from "../problem-report.ts";
import { warningLine } from "../problem-report.ts";
import type { ResourceRef } from "../translate/problems.ts";
import type { ApiRouter } from "./router.ts";
import { documentKind } from "../../api/resources/envelope.ts";

export interface NamedFile {
  name: string;
  content: string;
}

/** Validates files into resources ready to store; throws an error with `problems` (one line each) when any fails. */
export type Validate = (files: readonly NamedFile[]) => { resources: StoredResource[]; warnings: string[] };

export type ApplyAction = "created" | "configured" | "unchanged";

/** What the control plane adds to the store's answers (absent: the store's answers alone). */
export interface ResourceHooks {
  /**
   * The problems of resources an apply stores (or would store): translated on the world they make, and what is
   * stored but not enforced. Each becomes a warning of the reply, as kubectl prints the API server's warnings.
   */
  review?: (resources: readonly StoredResource[]) => readonly ReportedProblem[];
  /** A resource's `status` as Istio writes it (validation messages); made once per request. */
  status?: () => (ref: ResourceRef) => Record<string, unknown> | undefined;
  /**
   * Kinds this API never shows nor deletes (TLS secrets: their own API answers summaries only, never the key;
   * http/secrets-api.ts). Listed, they are left out; named, they are not found here, and the answer says where to go.
   */
  hidden?: Readonly<Record<string, string>>;
}

export function addResourceRoutes(
  router: ApiRouter,
  store: ResourceStore,
  validate: Validate,
  hooks: ResourceHooks = {},
): void {
  // Answers show documents as users write them: the Gateway API's Gateway (stored as KubernetesGateway) is
  // `kind: Gateway` again, so `get -o yaml` output applies back.
  const withStatus = (items: StoredResource[]): StoredResource[] => {
    const statusOf = hooks.status === undefined || items.length === 0 ? undefined : hooks.status();
    return items.map((r) => {
      const status = statusOf?.({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name });
      const shown = r.kind === documentKind(r.kind) ? r : { ...r, kind: documentKind(r.kind) };
      return status === undefined ? shown : { ...shown, status };
    });
  };
  const hidden = hooks.hidden ?? {};
  const hiddenReply = (kind: string) => ({ status: 404, json: { errors: [`kind ${kind}: ${hidden[kind]}`] } });
  router
    .add("POST", "/api/v1/apply", async (req) => {
      let body: { files?: unknown; dryRun?: unknown };
      try {
        body = JSON.parse(req.body) as typeof body;
      } catch (err) {
        return { status: 400, json: { errors: [`body: expected JSON (${(err as Error).message})`] } };
      }
      const files = body.files;
      if (!Array.isArray(files) || files.some((f) => typeof f?.name !== "string" || typeof f?.content !== "string"))
        return { status: 400, json: { errors: ["files: expected [{name, content}]"] } };
      let validated: ReturnType<Validate>;
      try {
        validated = validate(files as NamedFile[]);
      } catch (err) {
        const problems = (err as { problems?: readonly string[] }).problems;
        if (problems === undefined) throw err;
        return { status: 400, json: { errors: problems } };
      }
      const changed: StoredResource[] = [];
      const results: { kind: string; namespace: string; name: string; action: ApplyAction }[] = [];
      for (const r of validated.resources) {
        const existing = await store.get({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name });
        const action: ApplyAction =
          existing === undefined ? "created" : sameContent(existing, r) ? "unchanged" : "configured";
        results.push({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name, action });
        if (action !== "unchanged") changed.push(r);
      }
      if (body.dryRun !== true && changed.length > 0) await store.applyAll(changed);
      let problems: readonly ReportedProblem[] = [];
      const warnings = [...validated.warnings];
      try {
        problems = hooks.review?.(validated.resources) ?? [];
        warnings.push(...problems.map(warningLine));
      } catch (err) {
        // What was applied stays applied; the user hears that its problems could not be listed, and why.
        warnings.push(`the problems of what was applied could not be listed: ${(err as Error).message}`);
      }
      return { status: 200, json: { results, warnings, problems } };
    })
    .add("GET", "/api/v1/resources", async (req) => ({
      status: 200,
      json: {
        items: withStatus(
          (await store.list(req.query.get("kind") ?? undefined, req.query.get("namespace") ?? undefined)).filter(
            (r) => hidden[r.kind] === undefined,
          ),
        ),
      },
    }))
    .add("GET", "/api/v1/resources/:kind/:namespace/:name", async (req) => {
      const { kind, namespace, name } = req.params as { kind: string; namespace: string; name: string };
      if (hidden[kind] !== undefined) return hiddenReply(kind);
      const found = await store.get({ kind, namespace, name });
      return found === undefined
        ? { status: 404, json: { errors: [`${kind} ${namespace}/${name} not found`] } }
        : { status: 200, json: withStatus([found])[0] };
    })
    .add("DELETE", "/api/v1/resources/:kind/:namespace/:name", async (req) => {
      const { kind, namespace, name } = req.params as { kind: string; namespace: string; name: string };
      if (hidden[kind] !== undefined) return hiddenReply(kind);
      return (await store.delete({ kind, namespace, name }))
        ? { status: 200, json: { deleted: `${kind}/${namespace}/${name}` } }
        : { status: 404, json: { errors: [`${kind} ${namespace}/${name} not found`] } };
    });
}

/** Same resource as far as the user wrote it: the store's own metadata (versions, uid, timestamps) is ignored. */
function sameContent(stored: StoredResource, incoming: StoredResource): boolean {
  return (
    stored.apiVersion === incoming.apiVersion &&
    isDeepStrictEqual(stored.spec, incoming.spec) &&
    isDeepStrictEqual(stored.metadata.labels ?? {}, incoming.metadata.labels ?? {}) &&
    isDeepStrictEqual(stored.metadata.annotations ?? {}, incoming.metadata.annotations ?? {})
  );
}
