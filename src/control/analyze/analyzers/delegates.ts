// Delegation (VirtualServices without hosts): a root's delegate that is missing, not exported to the root, or whose
// matches narrow none of the root's leaves routes out (IST0101 on the root), as the translation merges them.

import type { VirtualService } from "../../../api/resources/types.ts";
import type { AnalysisContext } from "../context.ts";
import { MESSAGES } from "../messages.ts";

export function analyzeDelegates(ctx: AnalysisContext, problems: ReadonlyMap<VirtualService, string[]>): void {
  for (const [root, found] of problems)
    for (const problem of found)
      ctx.report(
        MESSAGES.ReferencedResourceNotFound,
        root,
        `${problem}: requests it would have matched fall through to the routes after it`,
      );
}
