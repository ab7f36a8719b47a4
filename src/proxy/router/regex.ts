// Envoy's safe_regex is RE2. JavaScript's RegExp accepts almost the same syntax for what route configurations use,
// but a few RE2 forms would be read silently differently by JavaScript (`\pL`, `\Q…\E`, `[[:alpha:]]` would all be
// taken literally), so the pattern is translated where the meaning is clear and refused where it is not: a
// configuration error at load time beats a route that quietly never matches. Everything is compiled once.

/** A pattern RE2 accepts that Trellis cannot translate faithfully, or that is not a valid pattern at all. */
export class RegexTranslationError extends Error {
  readonly code = "TRELLIS_REGEX_UNSUPPORTED";
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7F",
  blank: "\\t ",
  cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

interface Translated {
  source: string;
  flags: string;
}

/** Translates RE2 syntax to an equivalent JavaScript RegExp source (without anchors) and flags. */
export function translateRe2(pattern: string): Translated {
  let flags = "";
  let i = 0;
  // RE2 allows flag groups anywhere; JavaScript on Node 20 has none, so only a leading one (whole-pattern flags) is
  // translated.
  const lead = /^\(\?([imsU]+)\)/.exec(pattern);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === "U") throw new RegexTranslationError(`the RE2 flag U (ungreedy) has no JavaScript equivalent`);
      if (!flags.includes(f)) flags += f;
    }
    i = lead[0].length;
  }
  let out = "";
  let inClass = false;
  for (; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\") {
      const n = pattern[i + 1];
      if (n === undefined) throw new RegexTranslationError("trailing backslash");
      if (!inClass && n === "A") out += "^";
      else if (!inClass && n === "z") out += "$";
      else if ("QEpPCX".includes(n)) throw new RegexTranslationError(`the RE2 escape \\${n} is not supported`);
      else out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === "[" && pattern[i + 1] === ":") {
        const end = pattern.indexOf(":]", i + 2);
        const name = end < 0 ? "" : pattern.slice(i + 2, end);
        const negated = name.startsWith("^");
        const body = POSIX_CLASSES[negated ? name.slice(1) : name];
        if (body === undefined || negated) throw new RegexTranslationError(`unsupported character class [:${name}:]`);
        out += body;
        i = end + 1;
        continue;
      }
      if (c === "]") inClass = false;
      out += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      // A `]` right after `[` or `[^` is a literal in RE2; JavaScript would read `[]` as an empty class.
      if (pattern[i + 1] === "^") out += pattern[++i];
      if (pattern[i + 1] === "]") {
        out += "\\]";
        i++;
      }
      continue;
    }
    if (c === "(" && pattern[i + 1] === "?") {
      if (pattern[i + 2] === "P" && pattern[i + 3] === "<") {
        out += "(?<";
        i += 3;
        continue;
      }
      if (pattern[i + 2] !== ":" && pattern[i + 2] !== "<") {
        throw new RegexTranslationError("inline flags are supported only at the start of the pattern");
      }
    }
    out += c;
  }
  return { source: out, flags };
}

function build(source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new RegexTranslationError((err as Error).message);
  }
}

/** A RegExp that must match the whole input, as RE2::FullMatch does for Envoy's safe_regex matchers. */
export function compileFullMatch(pattern: string): RegExp {
  const t = translateRe2(pattern);
  return build(`^(?:${t.source})$`, t.flags);
}

/**
 * A global RegExp and a JavaScript replacement string for a regex_rewrite (RE2::GlobalReplace): the substitution's
 * `\N` references become `$0N`, `\0` the whole match, `\\` a backslash, and a literal `$` is escaped.
 */
export function compileRewrite(pattern: string, substitution: string): { regex: RegExp; replacement: string } {
  const t = translateRe2(pattern);
  const regex = build(t.source, t.flags + "g");
  const groups = new RegExp(`${t.source}|`, t.flags).exec("")!.length - 1;
  let replacement = "";
  for (let i = 0; i < substitution.length; i++) {
    const c = substitution[i]!;
    if (c === "$") replacement += "$$";
    else if (c !== "\\") replacement += c;
    else {
      const n = substitution[++i];
      if (n === "\\") replacement += "\\";
      else if (n !== undefined && n >= "0" && n <= "9") {
        const g = n.charCodeAt(0) - 48;
        if (g > groups) throw new RegexTranslationError(`substitution refers to group ${g}, the pattern has ${groups}`);
        replacement += g === 0 ? "$&" : "$0" + n;
      } else throw new RegexTranslationError("a backslash in the substitution must be followed by a digit or \\");
    }
  }
  return { regex, replacement };
}
