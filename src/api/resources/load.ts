// A file of resources — multi-document YAML (`---`), JSON, or a `kind: List` with `items` (what `kubectl get -o
// yaml` writes) — into typed resources. Everything wrong in the whole file is reported in one
// ResourceValidationError, so a bad file is refused as a whole and nothing half-applies.

import { parseAllDocuments } from "yaml";
import type { Resource, ResourceWarning } from "./types.ts";
import { ResourceContext, indexPath } from "./context.ts";
import { ResourceValidationError } from "./errors.ts";
import type { ResourceProblem } from "./errors.ts";
import { describeDocument, readResource } from "./envelope.ts";
import { resourceKey } from "./serialize.ts";
import { isPlainObject } from "../xds/parse/context.ts";

export interface LoadedResources {
  resources: Resource[];
  warnings: ResourceWarning[];
}

/** Reads every resource in `text` (named `file` in messages). Throws ResourceValidationError listing every problem. */
export function loadResources(text: string, file: string): LoadedResources {
  const reader = new DocumentReader(file);
  const documents = parseAllDocuments(text, { uniqueKeys: true });
  (Array.isArray(documents) ? documents : [documents]).forEach((doc, document) => {
    if (doc.errors.length === 0) {
      let raw: unknown;
      try {
        raw = doc.toJS({ maxAliasCount: 100 });
      } catch (error) {
        // The yaml package throws here for alias bombs ("Excessive alias count") and similar: bad input, not a bug.
        reader.problem(document, `not usable YAML: ${firstLine((error as Error).message)}`);
        return;
      }
      reader.read(raw, document);
    }
    for (const error of doc.errors) {
      const at = error.linePos?.[0];
      const where = at === undefined ? "" : ` (line ${at.line}, column ${at.col})`;
      reader.problem(document, `not valid YAML or JSON${where}: ${firstLine(error.message)}`);
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
  return reader.finish();
}

class DocumentReader {
  private readonly problems: ResourceProblem[] = [];
  private readonly warnings: ResourceWarning[] = [];
  private readonly resources: Resource[] = [];
  private readonly documentOf: number[] = [];

  constructor(private readonly file: string) {}

  problem(document: number, message: string, path = ""): void {
    this.problems.push({ file: this.file, document, path, message });
  }

  read(raw: unknown, document: number): void {
    if (raw === null || raw === undefined) return; // an empty document (a trailing `---`, comments only)
    if (isPlainObject(raw) && raw.kind === "List" && !Array.isArray(raw.items)) {
      this.problem(document, "expected a list of resources in a List", "items");
      return;
    }
    for (const { value, path } of expandList(raw)) {
      const ctx = new ResourceContext();
      const resource = readResource(ctx, value, path);
      const named = describeDocument(value);
      const where = { file: this.file, document, ...(named === undefined ? {} : { resource: named }) };
      for (const issue of ctx.errors) this.problems.push({ ...where, path: issue.path, message: issue.message });
      for (const issue of ctx.warnings) this.warnings.push({ ...where, path: issue.path, message: issue.message });
      if (ctx.errors.length === 0) {
        this.resources.push(resource);
        this.documentOf.push(document);
      }
    }
  }

  finish(): LoadedResources {
    checkDuplicates(this.file, this.resources, this.documentOf, this.problems);
    if (this.problems.length > 0) throw new ResourceValidationError(this.file, this.problems);
    return { resources: this.resources, warnings: this.warnings };
  }
}

/** A `kind: List` document's items, each at `items[i]`; any other document as itself. */
function expandList(raw: unknown): { value: unknown; path: string }[] {
  if (isPlainObject(raw) && raw.kind === "List" && (raw.apiVersion === undefined || raw.apiVersion === "v1")) {
    if (Array.isArray(raw.items)) return raw.items.map((item, i) => ({ value: item, path: indexPath("items", i) }));
  }
  return [{ value: raw, path: "" }];
}

/** The same resource twice in one file is almost always a copy-paste mistake: the second would silently win. */
function checkDuplicates(file: string, resources: Resource[], documentOf: number[], problems: ResourceProblem[]): void {
  const first = new Map<string, number>();
  resources.forEach((resource, i) => {
    const key = resourceKey(resource);
    const earlier = first.get(key);
    if (earlier !== undefined) {
      const message = `${key} is also document ${earlier}: each resource may appear once in a file`;
      problems.push({ file, document: documentOf[i], resource: key, path: "metadata.name", message });
    } else first.set(key, documentOf[i]);
  });
}

function firstLine(message: string): string {
  return message.split("\n")[0].replace(/:$/, "");
}
