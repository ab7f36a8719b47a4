// The `access_log` list of an HttpConnectionManager or TcpProxy, as Envoy's v3 API spells it:
//   access_log:
//   - name: envoy.access_loggers.file
//     typed_config:
//       "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
//       path: /dev/stdout
//       log_format: { text_format_source: { inline_string: "..." } }   # or { json_format: {...} }; none = default
// plus envoy.access_loggers.stdout / .stderr (StdoutAccessLog, StderrAccessLog). Formats are compiled here, so a
// bad operator is refused with its field path before anything is swapped in. Field names may be snake_case (YAML)
// or lowerCamelCase (proto3 JSON).

import type { ConfigIssue } from "../api/errors.ts";
import { fail, ok, type Result } from "../api/result.ts";
import {
  AccessLogFormatError,
  compileAccessLogFormat,
  compileJsonAccessLogFormat,
  DEFAULT_ACCESS_LOG_FORMAT,
  type AccessLogFormatter,
  type JsonFormatSpec,
} from "./access-log-format.ts";

export const FILE_ACCESS_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
export const STDOUT_ACCESS_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
export const STDERR_ACCESS_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog";

export type AccessLogFormatConfig =
  | { kind: "text"; format: string; omitEmptyValues: boolean }
  | { kind: "json"; json: JsonFormatSpec; omitEmptyValues: boolean };

export interface AccessLogConfig {
  name: string;
  /** A file path; "/dev/stdout" or "/dev/stderr" for the stream loggers. */
  path: string;
  format: AccessLogFormatConfig;
}

/** Compiles a (validated) format config. */
export function createFormatter(format: AccessLogFormatConfig): AccessLogFormatter {
  const options = { omitEmptyValues: format.omitEmptyValues };
  return format.kind === "text"
    ? compileAccessLogFormat(format.format, options)
    : compileJsonAccessLogFormat(format.json, options);
}

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const camel = (snake: string) => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A field by its proto name (snake_case) or its JSON name (lowerCamelCase). */
function field(o: Obj, snake: string): unknown {
  return o[snake] !== undefined ? o[snake] : o[camel(snake)];
}

/**
 * Parses an `access_log` list (undefined or null = none). `path` is the field path of the list itself, used in
 * the issues, e.g. `static_resources.listeners[0].filter_chains[0].filters[0].typed_config.access_log`.
 */
export function parseAccessLogConfig(raw: unknown, path: string): Result<AccessLogConfig[], ConfigIssue[]> {
  if (raw === undefined || raw === null) return ok([]);
  if (!Array.isArray(raw)) return fail([{ path, message: "expected a list of access loggers" }]);
  const issues: ConfigIssue[] = [];
  const out: AccessLogConfig[] = [];
  raw.forEach((item, i) => {
    const parsed = parseOne(item, `${path}[${i}]`, issues);
    if (parsed) out.push(parsed);
  });
  return issues.length > 0 ? fail(issues) : ok(out);
}

function parseOne(raw: unknown, path: string, issues: ConfigIssue[]): AccessLogConfig | undefined {
  if (!isObject(raw)) {
    issues.push({ path, message: "expected an object with name and typed_config" });
    return undefined;
  }
  const name = raw.name === undefined ? "" : raw.name;
  if (typeof name !== "string") {
    issues.push({ path: `${path}.name`, message: "expected a string" });
    return undefined;
  }
  if (field(raw, "filter") !== undefined) {
    issues.push({ path: `${path}.filter`, message: "access log filters are not supported yet; remove the filter" });
  }
  const typedConfig = field(raw, "typed_config");
  if (!isObject(typedConfig)) {
    issues.push({ path: `${path}.typed_config`, message: "expected an object with @type" });
    return undefined;
  }
  const tcPath = `${path}.typed_config`;
  const type = typedConfig["@type"];
  switch (type) {
    case FILE_ACCESS_LOG_TYPE: {
      const filePath = typedConfig.path;
      if (typeof filePath !== "string" || filePath === "") {
        issues.push({ path: `${tcPath}.path`, message: "expected a non-empty file path" });
        return undefined;
      }
      const format = parseFileFormat(typedConfig, tcPath, issues);
      return format && { name: name || "envoy.access_loggers.file", path: filePath, format };
    }
    case STDOUT_ACCESS_LOG_TYPE:
    case STDERR_ACCESS_LOG_TYPE: {
      const format = parseLogFormat(field(typedConfig, "log_format"), `${tcPath}.log_format`, issues);
      const stdout = type === STDOUT_ACCESS_LOG_TYPE;
      return (
        format && {
          name: name || (stdout ? "envoy.access_loggers.stdout" : "envoy.access_loggers.stderr"),
          path: stdout ? "/dev/stdout" : "/dev/stderr",
          format,
        }
      );
    }
    default:
      issues.push({
        path: `${tcPath}.@type`,
        message:
          `unsupported access logger ${JSON.stringify(type)}; expected ${FILE_ACCESS_LOG_TYPE}, ` +
          `${STDOUT_ACCESS_LOG_TYPE} or ${STDERR_ACCESS_LOG_TYPE}`,
      });
      return undefined;
  }
}

/** FileAccessLog: log_format, or the deprecated format / json_format fields (only one of them). */
function parseFileFormat(tc: Obj, path: string, issues: ConfigIssue[]): AccessLogFormatConfig | undefined {
  const present = ["log_format", "format", "json_format", "typed_json_format"].filter(
    (f) => field(tc, f) !== undefined,
  );
  if (present.length > 1) {
    issues.push({ path, message: `only one of ${present.join(", ")} may be set` });
    return undefined;
  }
  const legacyText = field(tc, "format");
  if (legacyText !== undefined) {
    if (typeof legacyText !== "string") {
      issues.push({ path: `${path}.format`, message: "expected a format string" });
      return undefined;
    }
    return checkFormat({ kind: "text", format: legacyText, omitEmptyValues: false }, `${path}.format`, issues);
  }
  for (const f of ["json_format", "typed_json_format"]) {
    const json = field(tc, f);
    if (json !== undefined) return parseJson(json, false, `${path}.${f}`, issues);
  }
  return parseLogFormat(field(tc, "log_format"), `${path}.log_format`, issues);
}

/**
 * A SubstitutionFormatString outside an access logger (the connection manager's local_reply_config): its format,
 * or undefined with the problems in `issues`.
 */
export function parseSubstitutionFormat(
  raw: unknown,
  path: string,
  issues: ConfigIssue[],
): AccessLogFormatConfig | undefined {
  return parseLogFormat(raw, path, issues);
}

/** SubstitutionFormatString: text_format_source.inline_string | text_format | json_format; none = default. */
function parseLogFormat(raw: unknown, path: string, issues: ConfigIssue[]): AccessLogFormatConfig | undefined {
  if (raw === undefined || raw === null)
    return { kind: "text", format: DEFAULT_ACCESS_LOG_FORMAT, omitEmptyValues: false };
  if (!isObject(raw)) {
    issues.push({ path, message: "expected an object (text_format_source or json_format)" });
    return undefined;
  }
  const omitRaw = field(raw, "omit_empty_values");
  if (omitRaw !== undefined && typeof omitRaw !== "boolean") {
    issues.push({ path: `${path}.omit_empty_values`, message: "expected true or false" });
    return undefined;
  }
  const omitEmptyValues = omitRaw === true;
  const kinds = ["text_format_source", "text_format", "json_format"].filter((f) => field(raw, f) !== undefined);
  if (kinds.length > 1) {
    issues.push({ path, message: `only one of ${kinds.join(", ")} may be set` });
    return undefined;
  }
  const source = field(raw, "text_format_source");
  if (source !== undefined) {
    const text = parseDataSource(source, `${path}.text_format_source`, issues);
    return text === undefined
      ? undefined
      : checkFormat({ kind: "text", format: text, omitEmptyValues }, `${path}.text_format_source`, issues);
  }
  const text = field(raw, "text_format");
  if (text !== undefined) {
    if (typeof text !== "string") {
      issues.push({ path: `${path}.text_format`, message: "expected a format string" });
      return undefined;
    }
    return checkFormat({ kind: "text", format: text, omitEmptyValues }, `${path}.text_format`, issues);
  }
  const json = field(raw, "json_format");
  if (json !== undefined) return parseJson(json, omitEmptyValues, `${path}.json_format`, issues);
  return { kind: "text", format: DEFAULT_ACCESS_LOG_FORMAT, omitEmptyValues };
}

/** A DataSource holding the format: inline_string, or inline_bytes (base64 in proto JSON/YAML). */
function parseDataSource(raw: unknown, path: string, issues: ConfigIssue[]): string | undefined {
  if (isObject(raw)) {
    const inline = field(raw, "inline_string");
    if (typeof inline === "string") return inline;
    const bytes = field(raw, "inline_bytes");
    if (typeof bytes === "string") return Buffer.from(bytes, "base64").toString("utf8");
    if (field(raw, "filename") !== undefined) {
      issues.push({ path: `${path}.filename`, message: "formats from files are not supported; use inline_string" });
      return undefined;
    }
  }
  issues.push({ path, message: "expected {inline_string: FORMAT}" });
  return undefined;
}

function parseJson(raw: unknown, omitEmptyValues: boolean, path: string, issues: ConfigIssue[]) {
  if (!isObject(raw)) {
    issues.push({ path, message: "expected a map of key → format string" });
    return undefined;
  }
  return checkFormat({ kind: "json", json: raw as JsonFormatSpec, omitEmptyValues }, path, issues);
}

/** Compiles once to refuse unknown operators now rather than on the first request. */
function checkFormat(
  format: AccessLogFormatConfig,
  path: string,
  issues: ConfigIssue[],
): AccessLogFormatConfig | undefined {
  try {
    createFormatter(format);
    return format;
  } catch (err) {
    if (!(err instanceof AccessLogFormatError)) throw err;
    issues.push({ path, message: err.message });
    return undefined;
  }
}
