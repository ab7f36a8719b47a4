// Collects every problem found while compiling one route configuration, so the ConfigError names them all at once
// (the user fixes the file once, not once per error).

import { ConfigError } from "../../api/errors.ts";
import type { ConfigIssue } from "../../api/errors.ts";

export class IssueSink {
  readonly issues: ConfigIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /** Throws a ConfigError naming `source` when anything was found. */
  throwIfAny(source: string): void {
    if (this.issues.length > 0) throw new ConfigError(source, this.issues);
  }
}
