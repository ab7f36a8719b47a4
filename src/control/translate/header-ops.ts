// Istio's Headers (request/response set, add, remove) → Envoy header edits. set overwrites, add appends. The
// authority cannot be edited as a header in Envoy: request.set of host or :authority becomes host_rewrite_literal,
// as Istio does; other pseudo-headers are reported and left out.

import type { HeaderOperations, Headers } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import type { Problems } from "./problems.ts";

export interface TranslatedHeaders {
  /** request_headers_to_add / _to_remove, response_headers_to_add / _to_remove (only the non-empty ones). */
  edits: Json;
  /** From request.set of host / :authority. */
  hostRewrite?: string;
}

export function headerEdits(headers: Headers | undefined, where: string, problems: Problems): TranslatedHeaders {
  const edits: Json = {};
  let hostRewrite: string | undefined;
  const side = (ops: HeaderOperations | undefined, dir: "request" | "response"): void => {
    if (ops === undefined) return;
    const add: Json[] = [];
    const remove: string[] = [];
    const usable = (name: string, op: string): boolean => {
      const lower = name.toLowerCase();
      if (dir === "request" && op === "set" && (lower === "host" || lower === ":authority")) return true;
      if (lower.startsWith(":") || lower === "host") {
        problems.add(`${where}: headers.${dir}.${op} of ${name} is not supported (pseudo-header); ignored`);
        return false;
      }
      return true;
    };
    for (const [name, value] of Object.entries(ops.set ?? {})) {
      if (!usable(name, "set")) continue;
      const lower = name.toLowerCase();
      if (lower === "host" || lower === ":authority") {
        hostRewrite = value;
        continue;
      }
      add.push({ header: { key: lower, value }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" });
    }
    for (const [name, value] of Object.entries(ops.add ?? {})) {
      if (!usable(name, "add")) continue;
      add.push({ header: { key: name.toLowerCase(), value }, append_action: "APPEND_IF_EXISTS_OR_ADD" });
    }
    for (const name of ops.remove ?? []) if (usable(name, "remove")) remove.push(name.toLowerCase());
    if (add.length > 0) edits[`${dir}_headers_to_add`] = add;
    if (remove.length > 0) edits[`${dir}_headers_to_remove`] = remove;
  };
  side(headers?.request, "request");
  side(headers?.response, "response");
  return hostRewrite === undefined ? { edits } : { edits, hostRewrite };
}
