// A file of resources — multi-document YAML (`---`), JSON, or a `kind: List` with `items` (what `kubectl get -o
// yaml` writes) — into typed resources. Two ways to read one:
//   - loadResources (apply): everything wrong in the whole file is reported in one ResourceValidationError, so a
//     bad file is refused as a whole and nothing half-applies;
//   - readResourceFile (analyze): every document on its own, nothing thrown — the good resources with where each
//     came from (file, document, line), the problems and warnings with their lines, and the Kubernetes objects.
// Kubernetes objects in a file (Service, Deployment, ServiceAccount… as Istio's samples mix them with Istio's
// resources) are not Istio resources: they are set aside with one warning each instead of failing the file.

import { LineCounter, isMap, isSeq, isScalar, parseAllDocuments } from "yaml";
import type { Document, Node } from "yaml";
import type { Resource, ResourceWarning } from "./types.ts";
import { ResourceContext, indexPath } from "./context.ts";
import { ResourceValidationError } from "./errors.ts";
import type { ResourceProblem } from "./errors.ts";
import { describeDocument, isResourceKind, readResource } from "./envelope.ts";
import { resourceKey } from "./serialize.ts";
import { isPlainObject } from "../xds/parse/context.ts";

export interface LoadedResources {
  resources: Resource[];
  warnings: ResourceWarning[];
}

/** Where a resource came from: the file, the document's 0-based index, its 1-based first line (text files only). */
export interface ResourceOrigin {
  file: string;
  document: number;
  line?: number;
  /** The 1-based line of a field path ("spec.http[0].route") in this resource, when the file was text. */
  lineOf?: (path: string) => number | undefined;
}

/** A Kubernetes object found among the resources (a Service, a Deployment…): not Istio's, set aside. */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  raw: Record<string, unknown>;
  origin: ResourceOrigin;
}

/** Everything one file holds, document by document; nothing thrown. */
export interface FileReading {
  resources: Resource[];
  /** origins[i] is where resources[i] came from. */
  origins: ResourceOrigin[];
  warnings: ResourceWarning[];
  problems: ResourceProblem[];
  kubernetes: KubernetesObject[];
}

/** Reads every resource in `text` (named `file` in messages). Throws ResourceValidationError listing every problem. */
export function loadResources(text: string, file: string): LoadedResources {
  const reading = readResourceFile(text, file);
  if (reading.problems.length > 0) throw new ResourceValidationError(file, reading.problems);
  return { resources: reading.resources, warnings: reading.warnings };
}

/** Reads every document of `text` on its own: one bad document does not hide the others. */
export function readResourceFile(text: string, file: string): FileReading {
  const lineCounter = new LineCounter();
  const reader = new DocumentReader(file, (offset) => lineCounter.linePos(offset).line);
  const documents = parseAllDocuments(text, { uniqueKeys: true, lineCounter });
  (Array.isArray(documents) ? documents : [documents]).forEach((doc, document) => {
    if (doc.errors.length === 0) {
      let raw: unknown;
      try {
        raw = doc.toJS({ maxAliasCount: 100 });
      } catch (error) {
        // The yaml package throws here for alias bombs ("Excessive alias count") and similar: bad input, not a bug.
        reader.problem(document, `not usable YAML: ${firstLine((error as Error).message)}`, "", reader.lineOf(doc));
        return;
      }
      reader.read(raw, document, doc);
    }
    for (const error of doc.errors) {
      const at = error.linePos?.[0];
      const where = at === undefined ? "" : ` (line ${at.line}, column ${at.col})`;
      reader.problem(document, `not valid YAML or JSON${where}: ${firstLine(error.message)}`, "", at?.line);
    }
  });
  return reader.finish();
}

/**
 * Validates resources that arrive as data (the HTTP API's JSON body): each value is one document (a List's items
 * count as its own). Same result and error as loadResources; `source` names where they came from.
 */
export function validateResources(values: readonly unknown[], source: string): LoadedResources {
  const reader = new DocumentReader(source);
  values.forEach((value, document) => reader.read(value, document));
  const reading = reader.finish();
  if (reading.problems.length > 0) throw new ResourceValidationError(source, reading.problems);
  return { resources: reading.resources, warnings: reading.warnings };
}

/** Kubernetes' own API groups (core "v1", apps, batch…): objects of these are not Istio resources. */
const KUBERNETES_GROUPS = new Set(["", "apps", "batch", "autoscaling", "policy"]);

/** Whether a document is a Kubernetes object (not a List, not Istio's, not the Gateway API's). */
export function isKubernetesObject(
  raw: unknown,
): raw is Record<string, unknown> & { apiVersion: string; kind: string } {
  if (!isPlainObject(raw) || typeof raw.apiVersion !== "string" || typeof raw.kind !== "string") return false;
  // An Istio kind with a Kubernetes apiVersion is a typo in the group: refused with the accepted ones, not skipped.
  if (raw.kind === "List" || isResourceKind(raw.kind)) return false;
  const slash = raw.apiVersion.indexOf("/");
  const group = slash < 0 ? "" : raw.apiVersion.slice(0, slash);
  return KUBERNETES_GROUPS.has(group) || (group.endsWith(".k8s.io") && group !== "gateway.networking.k8s.io");
}

class DocumentReader {
  private readonly problems: ResourceProblem[] = [];
  private readonly warnings: ResourceWarning[] = [];
  private readonly resources: Resource[] = [];
  private readonly origins: ResourceOrigin[] = [];
  private readonly kubernetes: KubernetesObject[] = [];

  constructor(
    private readonly file: string,
    private readonly lineAt?: (offset: number) => number,
  ) {}

  problem(document: number, message: string, path = "", line?: number): void {
    this.problems.push({ file: this.file, document, path, message, ...(line === undefined ? {} : { line }) });
  }

  /** The first line of a document's content (or of the node at `path` in it). */
  lineOf(doc: Document, path: readonly (string | number)[] = []): number | undefined {
    if (this.lineAt === undefined) return undefined;
    const offset = offsetOf(doc.contents, path);
    return offset === undefined ? undefined : this.lineAt(offset);
  }

  read(raw: unknown, document: number, doc?: Document): void {
    if (raw === null || raw === undefined) return; // an empty document (a trailing `---`, comments only)
    const lineOf = (path: string): number | undefined =>
      doc === undefined ? undefined : this.lineOf(doc, pathKeys(path));
    if (isPlainObject(raw) && raw.kind === "List" && !Array.isArray(raw.items)) {
      this.problem(document, "expected a list of resources in a List", "items", lineOf("items"));
      return;
    }
    for (const { value, path } of expandList(raw)) {
      const origin: ResourceOrigin = {
        file: this.file,
        document,
        ...optionalLine(lineOf(path)),
        ...(doc === undefined ? {} : { lineOf: (field: string) => lineOf(joinPath(path, field)) }),
      };
      const named = describeDocument(value);
      const where = { file: this.file, document, ...(named === undefined ? {} : { resource: named }) };
      if (isKubernetesObject(value)) {
        const metadata = isPlainObject(value.metadata) ? value.metadata : {};
        const name = typeof metadata.name === "string" ? metadata.name : "";
        const namespace =
          typeof metadata.namespace === "string" && metadata.namespace !== "" ? metadata.namespace : "default";
        this.kubernetes.push({ apiVersion: value.apiVersion, kind: value.kind, name, namespace, raw: value, origin });
        this.warnings.push({
          ...where,
          path,
          message: `a Kubernetes ${value.kind} (${value.apiVersion}), not an Istio resource: skipped`,
          ...optionalLine(origin.line),
        });
        continue;
      }
      const ctx = new ResourceContext();
      const resource = readResource(ctx, value, path);
      for (const issue of ctx.errors)
        this.problems.push({ ...where, path: issue.path, message: issue.message, ...optionalLine(lineOf(issue.path)) });
      for (const issue of ctx.warnings)
        this.warnings.push({ ...where, path: issue.path, message: issue.message, ...optionalLine(lineOf(issue.path)) });
      if (ctx.errors.length === 0) {
        this.resources.push(resource);
        this.origins.push(origin);
      }
    }
  }

  finish(): FileReading {
    checkDuplicates(this.file, this.resources, this.origins, this.problems);
    return {
      resources: this.resources,
      origins: this.origins,
      warnings: this.warnings,
      problems: this.problems,
      kubernetes: this.kubernetes,
    };
  }
}

const optionalLine = (line: number | undefined): { line?: number } => (line === undefined ? {} : { line });

const joinPath = (parent: string, child: string): string =>
  parent === "" ? child : child === "" ? parent : child.startsWith("[") ? parent + child : `${parent}.${child}`;

/** `spec.http[0]["app.kubernetes.io/name"].route` → ["spec", "http", 0, "app.kubernetes.io/name", "route"]. */
export function pathKeys(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  for (const m of path.matchAll(re)) {
    if (m[1] !== undefined) keys.push(m[1]);
    else if (m[2] !== undefined) keys.push(Number(m[2]));
    else if (m[3] !== undefined) keys.push(JSON.parse(m[3]) as string);
  }
  return keys;
}

/** The offset where the node at `path` starts: a map entry's key, a list item; as deep as the path exists. */
function offsetOf(node: unknown, path: readonly (string | number)[]): number | undefined {
  let at = rangeStart(node);
  let current = node;
  for (const key of path) {
    if (isMap(current)) {
      const pair = current.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (pair === undefined) break;
      at = rangeStart(pair.key) ?? at;
      current = pair.value;
    } else if (isSeq(current) && typeof key === "number") {
      const item = current.items[key];
      if (item === undefined) break;
      at = rangeStart(item) ?? at;
      current = item;
    } else break;
  }
  return at;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}

/** A `kind: List` document's items, each at `items[i]`; any other document as itself. */
function expandList(raw: unknown): { value: unknown; path: string }[] {
  if (isPlainObject(raw) && raw.kind === "List" && (raw.apiVersion === undefined || raw.apiVersion === "v1")) {
    if (Array.isArray(raw.items)) return raw.items.map((item, i) => ({ value: item, path: indexPath("items", i) }));
  }
  return [{ value: raw, path: "" }];
}

/** The same resource twice in one file is almost always a copy-paste mistake: the second would silently win. */
function checkDuplicates(
  file: string,
  resources: Resource[],
  origins: ResourceOrigin[],
  problems: ResourceProblem[],
): void {
  const first = new Map<string, number>();
  resources.forEach((resource, i) => {
    const key = resourceKey(resource);
    const earlier = first.get(key);
    const { document, line } = origins[i];
    if (earlier !== undefined) {
      const message = `${key} is also document ${earlier}: each resource may appear once in a file`;
      problems.push({ file, document, resource: key, path: "metadata.name", message, ...optionalLine(line) });
    } else first.set(key, document);
  });
}

function firstLine(message: string): string {
  return message.split("\n")[0].replace(/:$/, "");
}
