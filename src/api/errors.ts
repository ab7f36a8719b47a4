// Errors carry a stable `code` (like undici's UND_ERR_*), so scripts and tests match on the code, never the text.

export class TrellisError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem found in configuration: where (a field path like `static_resources.clusters[2].lb_policy`) and what. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/**
 * Configuration that cannot be used. Names the source (a file, or an xDS resource), every field at fault and
 * what was expected there. Thrown before anything is bound or swapped in, so the last good config keeps serving.
 */
export class ConfigError extends TrellisError {
  readonly source: string;
  readonly issues: readonly ConfigIssue[];
  constructor(source: string, issues: readonly ConfigIssue[]) {
    super(
      "TRELLIS_CONFIG_INVALID",
      `${source}: invalid configuration:\n` + issues.map((i) => `  - ${i.path || "(root)"}: ${i.message}`).join("\n"),
    );
    this.source = source;
    this.issues = issues;
  }
}
