// Envoy's StringMatcher (exact / prefix / suffix / contains with ignore_case, safe_regex as a whole-value match),
// compiled once. A class with a kind switch rather than closures: one shape for V8, and no allocation per match.

import type { StringMatch } from "../../api/xds/types.ts";
import { endsWithIgnoreCase, equalsIgnoreCase, includesIgnoreCase, startsWithIgnoreCase } from "./ascii.ts";
import { compileFullMatch } from "./regex.ts";

const enum Kind {
  Exact,
  Prefix,
  Suffix,
  Contains,
  Regex,
}

export class StringMatcher {
  private readonly kind: Kind;
  private readonly value: string;
  private readonly ignoreCase: boolean;
  private readonly regex: RegExp | undefined;

  /** Throws RegexTranslationError for a pattern that cannot be used. */
  constructor(m: StringMatch) {
    if (m.kind === "safe_regex") {
      this.kind = Kind.Regex;
      this.value = "";
      this.ignoreCase = false;
      this.regex = compileFullMatch(m.regex);
      return;
    }
    this.kind =
      m.kind === "exact"
        ? Kind.Exact
        : m.kind === "prefix"
          ? Kind.Prefix
          : m.kind === "suffix"
            ? Kind.Suffix
            : Kind.Contains;
    this.value = m.value;
    this.ignoreCase = m.ignoreCase;
    this.regex = undefined;
  }

  match(s: string): boolean {
    const v = this.value;
    switch (this.kind) {
      case Kind.Exact:
        return this.ignoreCase ? equalsIgnoreCase(s, v) : s === v;
      case Kind.Prefix:
        return this.ignoreCase ? startsWithIgnoreCase(s, v) : s.startsWith(v);
      case Kind.Suffix:
        return this.ignoreCase ? endsWithIgnoreCase(s, v) : s.endsWith(v);
      case Kind.Contains:
        return this.ignoreCase ? includesIgnoreCase(s, v) : s.includes(v);
      default:
        return this.regex!.test(s);
    }
  }
}
