// Header edits (request/response_headers_to_add and _to_remove), shared by route configurations, virtual hosts,
// routes and weighted clusters.

import type { HeaderEdits, HeaderValueOption } from "../types.ts";
import { describe } from "./context.ts";
import type { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import type { Item } from "./fields.ts";

export const HEADER_EDIT_FIELDS = [
  "request_headers_to_add",
  "request_headers_to_remove",
  "response_headers_to_add",
  "response_headers_to_remove",
] as const;

const OPTION_SPEC = { handled: ["header", "append", "append_action"], unsupported: ["keep_empty_value"] } as const;
const HEADER_SPEC = { handled: ["key", "value"], unsupported: ["raw_value"] } as const;

const APPEND_ACTIONS = [
  "APPEND_IF_EXISTS_OR_ADD",
  "ADD_IF_ABSENT",
  "OVERWRITE_IF_EXISTS_OR_ADD",
  "OVERWRITE_IF_EXISTS",
] as const;

/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;

export function readHeaderEdits(fields: Fields): HeaderEdits {
  return {
    requestHeadersToAdd: readHeadersToAdd(fields, "request_headers_to_add"),
    requestHeadersToRemove: readHeadersToRemove(fields, "request_headers_to_remove"),
    responseHeadersToAdd: readHeadersToAdd(fields, "response_headers_to_add"),
    responseHeadersToRemove: readHeadersToRemove(fields, "response_headers_to_remove"),
  };
}

export function readHeadersToAdd(fields: Fields, name: string): HeaderValueOption[] {
  return fields.list(name).map((item) => readHeaderValueOption(fields.ctx, item));
}

function readHeaderValueOption(ctx: ParseContext, item: Item): HeaderValueOption {
  const option = Fields.open(ctx, item.value, item.path, OPTION_SPEC);
  let key = "";
  let value = "";
  if (option.requireField("header")) {
    const header = option.message("header", HEADER_SPEC);
    key = checkHeaderName(ctx, header.requiredString("key"), header.at("key"));
    value = header.string("value") ?? "";
  }
  let appendAction: HeaderValueOption["appendAction"] = "APPEND_IF_EXISTS_OR_ADD";
  if (option.has("append") && option.has("append_action")) {
    ctx.report(option.path, "append and append_action cannot both be set (append is deprecated)");
  } else if (option.has("append")) {
    appendAction = option.bool("append", true) ? "APPEND_IF_EXISTS_OR_ADD" : "OVERWRITE_IF_EXISTS_OR_ADD";
  } else {
    appendAction = option.enumValue("append_action", APPEND_ACTIONS, "APPEND_IF_EXISTS_OR_ADD");
  }
  return { key, value, appendAction };
}

export function readHeadersToRemove(fields: Fields, name: string): string[] {
  const out: string[] = [];
  for (const item of fields.list(name)) {
    if (typeof item.value !== "string") {
      fields.ctx.report(item.path, `expected a header name, got ${describe(item.value)}`);
      continue;
    }
    const checked = checkHeaderName(fields.ctx, item.value, item.path);
    if (checked !== "") out.push(checked);
  }
  return out;
}

/** Lower-cased; pseudo-headers and host are refused (Envoy: they "may not be modified" this way). */
function checkHeaderName(ctx: ParseContext, name: string, path: string): string {
  if (name === "") return "";
  const lower = name.toLowerCase();
  if (lower.startsWith(":") || lower === "host") {
    ctx.report(path, `${describe(name)}: pseudo-headers and host may not be modified by header edits`);
    return "";
  }
  if (!HEADER_NAME.test(lower)) {
    ctx.report(path, `expected a header name, got ${describe(name)}`);
    return "";
  }
  return lower;
}
