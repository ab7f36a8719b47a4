// typed_per_filter_config of virtual hosts and routes: filter name → that filter's config for requests on this
// route (Istio puts a VirtualService's fault and a local rate limit here). Each value is an Any with "@type", or
// Envoy's envoy.config.route.v3.FilterConfig wrapper ({config, is_optional, disabled}). The filter's own factory
// validates the config when the route table is compiled.

import type { FilterConfigOverride } from "../types.ts";
import { describe, isPlainObject } from "./context.ts";
import type { Fields } from "./fields.ts";

export const FILTER_CONFIG_WRAPPER_TYPE_URL = "type.googleapis.com/envoy.config.route.v3.FilterConfig";

export function readTypedPerFilterConfig(fields: Fields): Record<string, FilterConfigOverride> {
  const out: Record<string, FilterConfigOverride> = {};
  const at = fields.at("typed_per_filter_config");
  for (const [name, value] of Object.entries(fields.map("typed_per_filter_config"))) {
    const path = `${at}.${name}`;
    const any = readAny(fields, value, path);
    if (any === undefined) continue;
    if (any.typeUrl !== FILTER_CONFIG_WRAPPER_TYPE_URL) {
      out[name] = { typeUrl: any.typeUrl, config: any.config, disabled: false };
      continue;
    }
    const { config, disabled, is_optional, isOptional, ...rest } = any.config;
    for (const key of Object.keys(rest)) fields.ctx.report(`${path}.${key}`, "unknown field of FilterConfig");
    if (disabled !== undefined && typeof disabled !== "boolean")
      fields.ctx.report(`${path}.disabled`, `expected a boolean, got ${describe(disabled)}`);
    void is_optional;
    void isOptional;
    if (config === undefined) {
      if (disabled !== true) fields.ctx.report(`${path}.config`, "required unless disabled is true");
      out[name] = { typeUrl: "", config: {}, disabled: true };
      continue;
    }
    const inner = readAny(fields, config, `${path}.config`);
    if (inner !== undefined) out[name] = { typeUrl: inner.typeUrl, config: inner.config, disabled: disabled === true };
  }
  return out;
}

function readAny(
  fields: Fields,
  value: unknown,
  path: string,
): { typeUrl: string; config: Record<string, unknown> } | undefined {
  if (!isPlainObject(value)) {
    fields.ctx.report(path, `expected an object with "@type", got ${describe(value)}`);
    return undefined;
  }
  const { "@type": typeUrl, ...config } = value;
  if (typeof typeUrl !== "string" || typeUrl === "") {
    fields.ctx.report(`${path}.@type`, `required: the type URL, got ${describe(typeUrl)}`);
    return undefined;
  }
  return { typeUrl, config };
}
