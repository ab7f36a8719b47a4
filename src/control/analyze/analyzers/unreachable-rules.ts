// Istio's validation of route order (pkg/config/validation: analyzeUnreachableHTTPRules and its TCP/TLS twins),
// reported as analyzers: a rule after one without matches, or whose every match an earlier rule already has, is
// never used (IST0130); a single match an earlier rule already has, or an earlier URI prefix with otherwise the
// same conditions covers, is never used (IST0131). Each VirtualService as written, delegates included.

import type { HTTPMatchRequest, HTTPRoute } from "../../../api/resources/types.ts";
import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";

interface Rule {
  name?: string;
  match: readonly unknown[];
}

export function analyzeUnreachableRules(ctx: AnalysisContext): void {
  for (const vs of ctx.virtualServices) {
    const report = (field: "http" | "tcp" | "tls") => ({
      unreachable: (rule: number, name: string, reason: string) =>
        ctx.report(
          MESSAGES.VirtualServiceUnreachableRule,
          vs,
          `VirtualService rule ${name} not used (${reason}).`,
          `spec.${field}[${rule}]`,
        ),
      ineffective: (rule: number, name: string, match: number, matchName: string, dup: string) =>
        ctx.report(
          MESSAGES.VirtualServiceIneffectiveMatch,
          vs,
          `VirtualService rule ${name} match ${matchName} is not used (duplicate/overlapping match in rule ${dup}).`,
          `spec.${field}[${rule}].match[${match}]`,
        ),
    });
    checkRules(vs.spec.http, report("http"), true);
    checkRules(vs.spec.tcp, report("tcp"), false);
    checkRules(vs.spec.tls, report("tls"), false);
  }
}

function checkRules(
  rules: readonly Rule[],
  report: {
    unreachable: (rule: number, name: string, reason: string) => void;
    ineffective: (rule: number, name: string, match: number, matchName: string, dup: string) => void;
  },
  http: boolean,
): void {
  const ruleName = (i: number) => (http && rules[i]!.name ? JSON.stringify(rules[i]!.name) : `#${i}`);
  const matchName = (m: unknown, j: number) => {
    const name = http ? (m as HTTPMatchRequest).name : undefined;
    return name ? JSON.stringify(name) : `#${j}`;
  };
  const seen = new Map<string, number>();
  const prefixes: { rule: number; match: number; prefix: string; rest: string }[] = [];
  let catchAll = -1;
  rules.forEach((rule, i) => {
    if (rule.match.length === 0) {
      if (catchAll >= 0) report.unreachable(i, ruleName(i), "only the last rule can have no matches");
      catchAll = i;
      return;
    }
    let duplicates = 0;
    rule.match.forEach((m, j) => {
      if (catchAll >= 0) {
        report.unreachable(i, ruleName(i), "route without matches defined before");
        return;
      }
      const key = canonical(m, http);
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        report.ineffective(i, ruleName(i), j, matchName(m, j), ruleName(earlier));
        duplicates++;
        return;
      }
      seen.set(key, i);
      const prefix = http ? (m as HTTPMatchRequest).uri?.prefix : undefined;
      if (prefix !== undefined) {
        const { uri: _uri, ...others } = m as HTTPMatchRequest;
        prefixes.push({ rule: i, match: j, prefix, rest: canonical(others, true) });
      }
    });
    if (duplicates === rule.match.length) report.unreachable(i, ruleName(i), "all matches used by prior rules");
  });
  // An earlier URI prefix covers a later, longer one when every other condition is the same.
  prefixes.forEach((a, x) => {
    for (const b of prefixes.slice(x + 1)) {
      if (b.rule === a.rule || b.prefix === a.prefix || !b.prefix.startsWith(a.prefix) || b.rest !== a.rest) continue;
      report.ineffective(
        b.rule,
        ruleName(b.rule),
        b.match,
        `${matchName((rules[b.rule] as HTTPRoute).match[b.match], b.match)} of prefix ${b.prefix}`,
        `${ruleName(a.rule)} (${matchName((rules[a.rule] as HTTPRoute).match[a.match], a.match)} of prefix ${a.prefix})`,
      );
    }
  });
}

/** A match as data, its name left out, keys sorted: equal conditions give equal strings. */
function canonical(match: unknown, http: boolean): string {
  const value = http ? { ...(match as HTTPMatchRequest), name: undefined } : match;
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : 1)))
      : v,
  );
}
