// RE2 → JavaScript translation: what is translated, what is refused, how substitutions convert.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RegexTranslationError, compileFullMatch, compileRewrite, translateRe2 } from "./regex.ts";

describe("RE2 translation", () => {
  test("full matches are anchored around the whole alternation", () => {
    const re = compileFullMatch("a|b");
    assert.ok(re.test("a") && re.test("b"));
    assert.ok(!re.test("ab") && !re.test("xa"));
  });

  test("named groups, leading flags, \\A and \\z, POSIX classes, a leading ']' in a class", () => {
    assert.equal(translateRe2("(?P<v>[0-9]+)").source, "(?<v>[0-9]+)");
    assert.deepEqual(translateRe2("(?i)abc"), { source: "abc", flags: "i" });
    assert.ok(compileFullMatch("(?i)/API/.*").test("/api/x"));
    assert.equal(translateRe2("\\Aab\\z").source, "^ab$");
    assert.ok(compileFullMatch("[[:digit:]]+-[[:alpha:]_]+").test("42-ab_c"));
    assert.ok(compileFullMatch("[]a]+").test("]a]"));
    assert.ok(compileFullMatch("[^]a]+").test("xyz"));
    assert.ok(compileFullMatch("\\d+\\.\\d+").test("1.25"));
  });

  test("forms JavaScript would read differently are refused", () => {
    for (const p of ["\\pL+", "\\Qa.b\\E", "a(?i)b", "(?U)a+", "[[:nope:]]", "(?=a)", "("]) {
      assert.throws(() => compileFullMatch(p), RegexTranslationError, p);
    }
  });

  test("substitutions: \\N groups, \\0 the match, \\\\ a backslash, $ literal", () => {
    const { regex, replacement } = compileRewrite("([a-z]+)-([0-9]+)", "\\2_\\1 \\0 $1 \\\\");
    assert.equal("ab-12".replace(regex, replacement), "12_ab ab-12 $1 \\");
    // "\\10" is group 1 then "0" in RE2.
    const ten = compileRewrite("(a)", "\\10");
    assert.equal("a".replace(ten.regex, ten.replacement), "a0");
  });

  test("a substitution naming a group the pattern lacks is refused", () => {
    assert.throws(() => compileRewrite("(a)", "\\2"), RegexTranslationError);
    assert.throws(() => compileRewrite("a", "\\x"), RegexTranslationError);
  });
});
