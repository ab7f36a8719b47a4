// The one error `loadResources` throws: every problem in a file, each with the document's index (0-based), the
// resource's Kind/namespace/name when it got that far, the field path and what was expected.

import { ConfigError } from "../errors.ts";

export interface ResourceProblem {
  file: string;
  /** 0-based index of the document in the file. */
  document: number;
  /** `Kind/namespace/name` when known. */
  resource?: string;
  path: string;
  message: string;
  /** 1-based line of the field (or of the document) in the file, when it was text. */
  line?: number;
}

/** Where a problem is, as people read it: `document 2 (VirtualService/default/reviews) spec.http[0].route`. */
export function locate(problem: Omit<ResourceProblem, "file" | "message">): string {
  const resource = problem.resource === undefined ? "" : ` (${problem.resource})`;
  return `document ${problem.document}${resource}${problem.path === "" ? "" : ` ${problem.path}`}`;
}

export class ResourceValidationError extends ConfigError {
  override readonly code = "TRELLIS_RESOURCE_INVALID";
  readonly problems: readonly ResourceProblem[];

  constructor(file: string, problems: readonly ResourceProblem[]) {
    super(
      file,
      problems.map((p) => ({ path: locate(p), message: p.message })),
    );
    this.problems = problems;
  }
}
