// What `trellis proxy-status` shows of each proxy's problems (docs/control-plane.md, "Problems"): a count per proxy
// in the table, and for `proxy-status PROXY` each problem with its code, resource and field path.

/** A problem as GET /api/v1/proxies reports it per proxy. */
export interface ProxyProblem {
  code: string;
  resource?: { kind: string; namespace: string; name: string };
  path?: string;
  message: string;
}

/** The PROBLEMS column: how many, or "-" when the control plane does not say. */
export function problemCount(problems: readonly ProxyProblem[] | undefined): string {
  return problems === undefined ? "-" : String(problems.length);
}

/** One line per problem: "IST0101 VirtualService default/reviews spec.http[0]: subset v9 … is not defined …". */
export function renderProblems(nodeId: string, problems: readonly ProxyProblem[] | undefined): string {
  if (problems === undefined || problems.length === 0) return `\n${nodeId}: no problems.\n`;
  const lines = problems.map((p) => {
    const about = p.resource === undefined ? "" : ` ${p.resource.kind} ${p.resource.namespace}/${p.resource.name}`;
    return `  ${p.code}${about}${p.path !== undefined ? ` ${p.path}` : ""}: ${p.message}\n`;
  });
  return `\n${nodeId}: ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${lines.join("")}`;
}
