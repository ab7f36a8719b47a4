// prefix_rewrite and regex_rewrite of a route's path, as Envoy's currentUrlPathAfterRewriteWithMatchedPath:
// - prefix_rewrite replaces the characters the match covered: the configured prefix (or path, or
//   path_separated_prefix) length; for a safe_regex match, the whole path before the query. The query follows.
// - regex_rewrite rewrites every match in the path before the query (RE2::GlobalReplace); the query is kept.

import { compileRewrite } from "./regex.ts";
import { pathEnd } from "./request.ts";

export class PathRewrite {
  private readonly prefix: string | undefined;
  /** Characters of the path the route's match covered; -1 = the whole path part (regex matches). */
  private readonly matchedLength: number;
  private readonly regex: RegExp | undefined;
  private readonly replacement: string;

  private constructor(
    prefix: string | undefined,
    matchedLength: number,
    regex: RegExp | undefined,
    replacement: string,
  ) {
    this.prefix = prefix;
    this.matchedLength = matchedLength;
    this.regex = regex;
    this.replacement = replacement;
  }

  static prefix(rewrite: string, matchedLength: number): PathRewrite {
    return new PathRewrite(rewrite, matchedLength, undefined, "");
  }

  /** Throws RegexTranslationError for a pattern or substitution that cannot be used. */
  static regex(pattern: string, substitution: string): PathRewrite {
    const { regex, replacement } = compileRewrite(pattern, substitution);
    return new PathRewrite(undefined, 0, regex, replacement);
  }

  apply(path: string): string {
    const end = pathEnd(path);
    if (this.prefix !== undefined) {
      const cut = this.matchedLength < 0 ? end : Math.min(this.matchedLength, path.length);
      return this.prefix + path.slice(cut);
    }
    const rewritten = path.slice(0, end).replace(this.regex!, this.replacement);
    return end === path.length ? rewritten : rewritten + path.slice(end);
  }
}
