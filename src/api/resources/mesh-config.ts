// Istio's MeshConfig (the `mesh` key of the istio ConfigMap, or IstioOperator's `meshConfig`): mesh-wide settings
// read from one YAML file given to `trellis up --mesh-config`. Read like the resources: every problem in one pass,
// each with its field path and (from a file) its line; unknown fields are warnings. What Trellis does with each field
// is decided here too: a field either takes effect (rootNamespace, outboundTrafficPolicy, localityLbSetting, access
// logs), or is stored and listed in `notices` ("stored, not enforced yet", and why), never dropped silently.
// Istio's reference: pkg/config/validation/agent (ValidateMeshConfig, ValidateMeshConfigProxyConfig,
// validateExtensionProvider) and pkg/config/mesh (the defaults). No I/O here: control/mesh-config.ts reads the file.

import { LineCounter, isNode, parseDocument } from "yaml";
import type { Document } from "yaml";
import { ConfigError } from "../errors.ts";
import type { ConfigIssue } from "../errors.ts";
import { describe, isPlainObject } from "../xds/parse/context.ts";
import { isDns1123Label } from "./common.ts";
import { ResourceContext } from "./context.ts";
import { formatIstioDuration } from "./duration.ts";
import { SpecFields } from "./fields.ts";
import { readLocalityLbSetting } from "./traffic-policy.ts";
import type { LocalityLoadBalancerSetting } from "./types.ts";

export type AccessLogEncoding = "TEXT" | "JSON";

/** The ProxyConfig fields Trellis reads from `defaultConfig` (durations as Istio writes them: "45s"). */
export interface MeshProxyConfig {
  drainDuration?: string;
  terminationDrainDuration?: string;
  concurrency?: number;
  holdApplicationUntilProxyStarts?: boolean;
  proxyStatsMatcher?: { inclusionPrefixes: string[]; inclusionSuffixes: string[]; inclusionRegexps: string[] };
  proxyMetadata?: Record<string, string>;
  discoveryAddress?: string;
  tracing?: { sampling?: number; zipkin?: { address: string } };
}

export const PROVIDER_KINDS = [
  "zipkin",
  "opentelemetry",
  "envoyExtAuthzHttp",
  "envoyExtAuthzGrpc",
  "prometheus",
  "envoyFileAccessLog",
] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** One extensionProviders entry, in Istio's shape: its name and exactly one provider block. */
export type ExtensionProvider = { name: string } & Partial<Record<ProviderKind, Record<string, unknown>>>;

export interface DefaultProviders {
  tracing: string[];
  metrics: string[];
  accessLogging: string[];
}

export interface MeshConfig {
  rootNamespace: string;
  trustDomain: string;
  trustDomainAliases: string[];
  outboundTrafficPolicy: { mode: "ALLOW_ANY" | "REGISTRY_ONLY" };
  /**
   * How long a sidecar waits for a connection's first bytes on a port whose protocol is detected (sniffed), as
   * Istio writes it; "0s" (Istio's default) is no timeout: a server-first protocol there waits for ever.
   */
  protocolDetectionTimeout: string;
  defaultConfig: MeshProxyConfig;
  localityLbSetting?: LocalityLoadBalancerSetting;
  /** "" = no access log (Istio's default). */
  accessLogFile: string;
  accessLogEncoding: AccessLogEncoding;
  /** "" = Istio's default format for the encoding. */
  accessLogFormat: string;
  enableTracing: boolean;
  extensionProviders: ExtensionProvider[];
  defaultProviders: DefaultProviders;
}

/** Istio's defaults (pkg/config/mesh DefaultMeshConfig), for the fields Trellis holds. */
export function defaultMeshConfig(): MeshConfig {
  return {
    rootNamespace: "istio-system",
    trustDomain: "cluster.local",
    trustDomainAliases: [],
    outboundTrafficPolicy: { mode: "ALLOW_ANY" },
    protocolDetectionTimeout: "0s",
    defaultConfig: {},
    accessLogFile: "",
    accessLogEncoding: "TEXT",
    accessLogFormat: "",
    enableTracing: true,
    extensionProviders: [],
    defaultProviders: { tracing: [], metrics: ["prometheus"], accessLogging: [] },
  };
}

/**
 * Providers every Istio mesh has without writing them (DefaultMeshConfig): `prometheus` and `envoy` (a file access
 * log to /dev/stdout). A provider of the same name in the file replaces them.
 */
export const BUILTIN_PROVIDERS: readonly ExtensionProvider[] = [
  { name: "prometheus", prometheus: {} },
  { name: "envoy", envoyFileAccessLog: { path: "/dev/stdout" } },
];

/** An access log every sidecar's listeners get, from accessLogFile or an envoyFileAccessLog default provider. */
export interface MeshAccessLog {
  path: string;
  format: { kind: "text"; text: string } | { kind: "json"; labels: Record<string, string> };
  /** The MeshConfig field it came from, for messages (`accessLogFile`, `extensionProviders[2]`). */
  source: string;
}

/** One problem or notice, with the field path, and the line in the file when known. */
export interface MeshConfigIssue extends ConfigIssue {
  line?: number;
}

export class MeshConfigError extends ConfigError {
  override readonly code = "TRELLIS_MESHCONFIG_INVALID";
  constructor(
    file: string,
    readonly problems: readonly MeshConfigIssue[],
  ) {
    super(
      file,
      problems.map((p) => ({ path: where(p), message: p.message })),
    );
  }
}

/** `line 4: defaultConfig.drainDuration`, or the path alone. */
export function where(issue: MeshConfigIssue): string {
  const path = issue.path === "" ? "(root)" : issue.path;
  return issue.line === undefined ? path : `line ${issue.line}: ${path}`;
}

export interface ReadMeshConfig {
  /** Undefined when there are errors. */
  config: MeshConfig | undefined;
  errors: MeshConfigIssue[];
  /** Accepted, but the user should know: unknown fields, Istio fields that do not apply to Trellis. */
  warnings: MeshConfigIssue[];
  /** Fields stored and shown, whose effect comes later: "stored, not enforced yet", each with why. */
  notices: MeshConfigIssue[];
  /** The access logs every sidecar gets (empty when none is configured). */
  accessLogs: MeshAccessLog[];
  /** The line of a field path in the file (undefined when the file does not write it). */
  lineOf(path: string): number | undefined;
}

const TOP = [
  "rootNamespace",
  "trustDomain",
  "trustDomainAliases",
  "outboundTrafficPolicy",
  "protocolDetectionTimeout",
  "defaultConfig",
  "localityLbSetting",
  "accessLogFile",
  "accessLogEncoding",
  "accessLogFormat",
  "enableTracing",
  "extensionProviders",
  "defaultProviders",
];

/**
 * Real MeshConfig fields Trellis does not read: accepted with a warning that they change nothing here (they are
 * Istio-installation details, or features Trellis does not have), rather than the "unknown field" warning a typo gets.
 */
const ISTIO_ONLY = [
  "proxyListenPort",
  "proxyInboundListenPort",
  "proxyHttpPort",
  "connectTimeout",
  "tcpKeepalive",
  "ingressClass",
  "ingressService",
  "ingressControllerMode",
  "ingressSelector",
  "enablePrometheusMerge",
  "enableEnvoyAccessLogService",
  "disableEnvoyListenerLog",
  "dnsRefreshRate",
  "h2UpgradePolicy",
  "inboundClusterStatName",
  "outboundClusterStatName",
  "certificates",
  "thriftConfig",
  "serviceSettings",
  "enableAutoMtls",
  "defaultServiceExportTo",
  "defaultVirtualServiceExportTo",
  "defaultDestinationRuleExportTo",
  "configSources",
  "caCertificates",
  "discoverySelectors",
  "pathNormalization",
  "defaultHttpRetryPolicy",
  "meshMTLS",
  "tlsDefaults",
  "verifyCertificateAtClient",
  "ca",
  "mixerCheckServer",
  "mixerReportServer",
  "sdsUdsPath",
  "localityLbSettingEnabled",
  "meshNetworks",
  "serviceScopeConfigs",
];

const PROXY_CONFIG = [
  "drainDuration",
  "terminationDrainDuration",
  "concurrency",
  "holdApplicationUntilProxyStarts",
  "proxyStatsMatcher",
  "proxyMetadata",
  "discoveryAddress",
  "tracing",
];

/** Real ProxyConfig fields that describe Istio's own sidecar container or its installation. */
const PROXY_CONFIG_ISTIO_ONLY = [
  "configPath",
  "binaryPath",
  "serviceCluster",
  "tracingServiceName",
  "parentShutdownDuration",
  "proxyAdminPort",
  "statusPort",
  "controlPlaneAuthPolicy",
  "customConfigFile",
  "statNameLength",
  "interceptionMode",
  "statsdUdpAddress",
  "envoyMetricsService",
  "envoyAccessLogService",
  "extraStatTags",
  "gatewayTopology",
  "meshId",
  "readinessProbe",
  "privateKeyProvider",
  "image",
  "runtimeValues",
  "proxyHeaders",
  "proxyBootstrapTemplatePath",
  "caCertificatesPem",
  "sds",
  "envoyMetricsServiceAddress",
  "envoyAccessLogServiceAddress",
  "zipkinAddress",
  "availabilityZone",
];

const NOT_ENFORCED = "stored, not enforced yet";

/**
 * Reads a MeshConfig file: the mesh ConfigMap key's content (MeshConfig fields at the top), a `meshConfig:` wrapper
 * (IstioOperator's spec.meshConfig pasted alone), an IstioOperator, or a ConfigMap with `data.mesh`. Never throws.
 */
export function readMeshConfig(text: string): ReadMeshConfig {
  const lineCounter = new LineCounter();
  const errors: MeshConfigIssue[] = [];
  const warnings: MeshConfigIssue[] = [];
  const notices: MeshConfigIssue[] = [];
  let doc: Document.Parsed | undefined;
  let lineOf = (_path: string): number | undefined => undefined;
  const result = (config: MeshConfig | undefined, accessLogs: MeshAccessLog[] = []): ReadMeshConfig => ({
    config: errors.length === 0 ? config : undefined,
    errors,
    warnings,
    notices,
    accessLogs: errors.length === 0 ? accessLogs : [],
    lineOf,
  });
  try {
    doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  } catch (err) {
    errors.push({ path: "", message: `not valid YAML: ${(err as Error).message.split("\n")[0]}` });
    return result(undefined);
  }
  for (const e of doc.errors) {
    const message =
      e.code === "MULTIPLE_DOCS"
        ? "a MeshConfig file holds one YAML document (found a second `---` document)"
        : `not valid YAML: ${e.message.split("\n")[0]}`;
    errors.push({
      path: "",
      message,
      ...(e.linePos?.[0] ? { line: e.linePos[0].line } : {}),
    });
  }
  if (errors.length > 0) return result(undefined);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    errors.push({ path: "", message: `not usable YAML: ${(err as Error).message.split("\n")[0]}` });
    return result(undefined);
  }
  const parsed = doc;
  lineOf = (path: string) => lineOfPath(parsed, lineCounter, path);
  if (raw === null || raw === undefined) raw = {};

  // Where the MeshConfig is inside the document, and the path prefix that leads there.
  let prefix = "";
  let body: unknown = raw;
  if (isPlainObject(raw)) {
    if (raw.kind === "ConfigMap" && isPlainObject(raw.data) && typeof raw.data.mesh === "string") {
      // The mesh key is YAML inside a string: read it on its own (its lines are the string's).
      const inner = readMeshConfig(raw.data.mesh);
      // Lines inside the string are not the file's: the path alone says where.
      const shift = (i: MeshConfigIssue): MeshConfigIssue => ({
        path: childOf("data.mesh", i.path),
        message: i.message,
      });
      errors.push(...inner.errors.map(shift));
      warnings.push(...inner.warnings.map(shift));
      notices.push(...inner.notices.map(shift));
      return result(inner.config, inner.accessLogs);
    }
    if (raw.kind === "IstioOperator" && isPlainObject(raw.spec)) {
      prefix = "spec.meshConfig";
      body = raw.spec.meshConfig ?? {};
    } else if (Object.keys(raw).length === 1 && "meshConfig" in raw) {
      prefix = "meshConfig";
      body = raw.meshConfig ?? {};
    }
  }

  const ctx = new ResourceContext();
  const config = readBody(ctx, body, prefix, notices);
  const located = (i: ConfigIssue): MeshConfigIssue => {
    const line = lineOf(i.path);
    return line === undefined ? { ...i } : { ...i, line };
  };
  // Istio-only fields: a warning that names them, instead of "unknown field".
  for (const w of ctx.warnings) warnings.push(located(w));
  for (const e of ctx.errors) errors.push(located(e));
  for (let i = 0; i < notices.length; i++) notices[i] = located(notices[i]!);
  const accessLogs = config === undefined ? [] : effectiveAccessLogs(config, prefix, warnings, located);
  // In the file's order (a stable sort: problems on one line keep the order they were found in).
  for (const list of [errors, warnings, notices]) list.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  return result(config, accessLogs);
}

function childOf(parent: string, path: string): string {
  if (parent === "") return path;
  if (path === "") return parent;
  return path.startsWith("[") ? `${parent}${path}` : `${parent}.${path}`;
}

function readBody(
  ctx: ResourceContext,
  raw: unknown,
  prefix: string,
  notices: MeshConfigIssue[],
): MeshConfig | undefined {
  const out = defaultMeshConfig();
  const known = [...TOP, ...ISTIO_ONLY];
  const f = SpecFields.open(ctx, raw, prefix, { known });
  if (f.broken) return undefined;
  for (const name of ISTIO_ONLY) {
    if (f.has(name)) f.warn(name, `MeshConfig field "${name}" does not apply to Trellis; ignored`);
  }
  const notice = (name: string, why: string): void => {
    notices.push({ path: f.at(name), message: `${NOT_ENFORCED}: ${why}` });
  };

  const rootNamespace = f.string("rootNamespace");
  if (rootNamespace !== undefined) {
    if (isDns1123Label(rootNamespace)) out.rootNamespace = rootNamespace;
    else f.error("rootNamespace", `expected a namespace name (a DNS-1123 label), got ${describe(rootNamespace)}`);
  }

  const trustDomain = f.string("trustDomain");
  if (trustDomain !== undefined) {
    const problem = trustDomainProblem(trustDomain);
    if (problem !== undefined) f.error("trustDomain", problem);
    else out.trustDomain = trustDomain;
    notice(
      "trustDomain",
      "workload certificates and AuthorizationPolicy principals use it once the CA and authorization are built",
    );
  }
  const aliases = f.list("trustDomainAliases");
  for (const item of aliases) {
    if (typeof item.value !== "string") ctx.error(item.path, `expected a string, got ${describe(item.value)}`);
    else {
      const problem = trustDomainProblem(item.value);
      if (problem !== undefined) ctx.error(item.path, problem);
      else out.trustDomainAliases.push(item.value);
    }
  }
  if (aliases.length > 0) notice("trustDomainAliases", "used with trustDomain once authorization is built");

  if (f.has("outboundTrafficPolicy")) {
    const o = f.message("outboundTrafficPolicy", { known: ["mode"] });
    const mode = o.enumValue("mode", ["ALLOW_ANY", "REGISTRY_ONLY"] as const);
    if (mode !== undefined) out.outboundTrafficPolicy = { mode };
  }

  // Istio: at least 1ms, or 0s for no timeout (ValidateProtocolDetectionTimeout).
  const detection = f.duration("protocolDetectionTimeout", 0);
  if (detection !== undefined && detection > 0 && detection < 1)
    f.error(
      "protocolDetectionTimeout",
      `expected at least 1ms, or 0s for no timeout, got ${describe(f.raw("protocolDetectionTimeout"))}`,
    );
  else if (detection !== undefined) out.protocolDetectionTimeout = formatIstioDuration(detection);

  if (f.has("defaultConfig")) out.defaultConfig = readProxyConfig(f.message("defaultConfig", PROXY_FIELDS), notices);

  if (f.has("localityLbSetting")) {
    const l = f.message("localityLbSetting", { known: ["distribute", "failover", "failoverPriority", "enabled"] });
    const setting = readLocalityLbSetting(l);
    checkFailover(l, setting);
    checkLocalities(l, setting);
    out.localityLbSetting = setting;
  }

  const accessLogFile = f.string("accessLogFile");
  if (accessLogFile !== undefined) out.accessLogFile = accessLogFile;
  const encoding = f.enumValue("accessLogEncoding", ["TEXT", "JSON"] as const);
  if (encoding !== undefined) out.accessLogEncoding = encoding;
  const format = f.string("accessLogFormat");
  if (format !== undefined) out.accessLogFormat = format;
  if (out.accessLogEncoding === "JSON" && out.accessLogFormat !== "") {
    const labels = jsonLabels(out.accessLogFormat);
    if (typeof labels === "string") f.error("accessLogFormat", labels);
  }

  const enableTracing = f.bool("enableTracing");
  if (enableTracing !== undefined) out.enableTracing = enableTracing;
  if (enableTracing === true) {
    notice("enableTracing", "Trellis sidecars do not start or propagate spans yet (the observability issue)");
  }

  out.extensionProviders = readProviders(f, notices);
  if (f.has("defaultProviders")) {
    const d = f.message("defaultProviders", { known: ["tracing", "metrics", "accessLogging"] });
    out.defaultProviders = {
      tracing: d.stringList("tracing"),
      metrics: d.has("metrics") ? d.stringList("metrics") : out.defaultProviders.metrics,
      accessLogging: d.stringList("accessLogging"),
    };
    const defined = new Map<string, ExtensionProvider>();
    for (const p of BUILTIN_PROVIDERS) defined.set(p.name, p);
    for (const p of out.extensionProviders) defined.set(p.name, p);
    const check = (list: "tracing" | "metrics" | "accessLogging", fits: readonly ProviderKind[]): void => {
      out.defaultProviders[list].forEach((name, i) => {
        const at = `${d.at(list)}[${i}]`;
        const provider = defined.get(name);
        if (provider === undefined) {
          ctx.warn(at, `no extension provider named "${name}" (defined: ${[...defined.keys()].join(", ")}); ignored`);
          return;
        }
        const kind = providerKind(provider);
        if (kind === undefined || !fits.includes(kind)) {
          ctx.error(at, `extension provider "${name}" is ${kind ?? "of an unknown type"}, not a ${list} provider`);
          return;
        }
        if (list === "tracing") {
          notices.push({ path: at, message: `${NOT_ENFORCED}: Trellis sidecars do not send spans yet` });
        } else if (list === "metrics" && kind !== "prometheus") {
          notices.push({ path: at, message: `${NOT_ENFORCED}: only Prometheus metrics are exported` });
        }
      });
    };
    check("tracing", ["zipkin", "opentelemetry"]);
    check("metrics", ["prometheus"]);
    check("accessLogging", ["envoyFileAccessLog"]);
  }
  return out;
}

const PROXY_FIELDS = { known: [...PROXY_CONFIG, ...PROXY_CONFIG_ISTIO_ONLY] };

function readProxyConfig(f: SpecFields, notices: MeshConfigIssue[]): MeshProxyConfig {
  const out: MeshProxyConfig = {};
  if (f.broken) return out;
  const notice = (name: string, why: string): void => {
    if (f.has(name)) notices.push({ path: f.at(name), message: `${NOT_ENFORCED}: ${why}` });
  };
  for (const name of PROXY_CONFIG_ISTIO_ONLY) {
    if (f.has(name)) f.warn(name, `ProxyConfig field "${name}" does not apply to Trellis sidecars; ignored`);
  }
  // Istio: drain durations at least 1ms, whole seconds (ValidateDrainDuration).
  for (const name of ["drainDuration", "terminationDrainDuration"] as const) {
    const ms = f.duration(name, 1);
    if (ms === undefined) continue;
    if (name === "drainDuration" && ms % 1000 !== 0) {
      f.error(name, `expected whole seconds (Istio's drain time precision), got ${describe(f.raw(name))}`);
    } else out[name] = formatIstioDuration(ms);
  }
  notice("drainDuration", "sidecars get their drain time from their own command line, not from the control plane");
  notice(
    "terminationDrainDuration",
    "sidecars get their drain time from their own command line, not from the control plane",
  );
  const concurrency = f.integer("concurrency", 0, 2_147_483_647);
  if (concurrency !== undefined) {
    out.concurrency = concurrency;
    if (concurrency !== 1) {
      notice("concurrency", `a Trellis sidecar runs on one event loop (one worker); ${concurrency} is not honoured`);
    }
  }
  const hold = f.bool("holdApplicationUntilProxyStarts");
  if (hold !== undefined) out.holdApplicationUntilProxyStarts = hold;
  notice(
    "holdApplicationUntilProxyStarts",
    "kept for `trellis run`, which will start the application only once its sidecar is ready",
  );
  if (f.has("proxyStatsMatcher")) {
    const m = f.message("proxyStatsMatcher", {
      known: ["inclusionPrefixes", "inclusionSuffixes", "inclusionRegexps"],
    });
    const inclusionRegexps = m.stringList("inclusionRegexps");
    m.list("inclusionRegexps").forEach((item) => {
      if (typeof item.value !== "string") return;
      try {
        new RegExp(item.value);
      } catch (err) {
        f.ctx.error(item.path, `not a valid regular expression: ${(err as Error).message}`);
      }
    });
    out.proxyStatsMatcher = {
      inclusionPrefixes: m.stringList("inclusionPrefixes"),
      inclusionSuffixes: m.stringList("inclusionSuffixes"),
      inclusionRegexps,
    };
    notice("proxyStatsMatcher", "Trellis sidecars export all their stats; the matcher does not narrow them yet");
  }
  if (f.has("proxyMetadata")) {
    out.proxyMetadata = f.stringMap("proxyMetadata");
    notice("proxyMetadata", "Trellis sidecars do not read Istio's ISTIO_META_* environment");
  }
  const discovery = f.string("discoveryAddress");
  if (discovery !== undefined) {
    const problem = proxyAddressProblem(discovery);
    if (problem !== undefined) f.error("discoveryAddress", problem);
    else out.discoveryAddress = discovery;
    notice("discoveryAddress", "sidecars are given the control plane's address by `trellis proxy --xds`");
  }
  if (f.has("tracing")) {
    const t = f.message("tracing", {
      known: ["sampling", "zipkin", "customTags", "maxPathTagLength", "tlsSettings"],
    });
    const tracing: NonNullable<MeshProxyConfig["tracing"]> = {};
    const sampling = t.number("sampling", 0, 100);
    if (sampling !== undefined) tracing.sampling = sampling;
    if (t.has("zipkin")) {
      const z = t.message("zipkin", { known: ["address"] });
      const address = z.requiredString("address");
      const problem = address === "" ? undefined : proxyAddressProblem(address.replace("$(HOST_IP)", "127.0.0.1"));
      if (problem !== undefined) z.error("address", problem);
      tracing.zipkin = { address };
    }
    out.tracing = tracing;
    notice("tracing", "Trellis sidecars do not send spans yet (the observability issue)");
  }
  return out;
}

/** Istio's ValidateTrustDomain: dot-separated DNS-1123 labels, a trailing dot allowed. */
function trustDomainProblem(domain: string): string | undefined {
  if (domain === "") return "must not be empty";
  const parts = domain.split(".");
  for (let i = 0; i < parts.length; i++) {
    if (i === parts.length - 1 && parts[i] === "") return undefined;
    if (!isDns1123Label(parts[i]!)) return `expected a trust domain (DNS labels separated by dots), got "${domain}"`;
  }
  return undefined;
}

/** Istio's ValidateProxyAddress: host:port, the host an FQDN or an IP, the port 1-65535. */
function proxyAddressProblem(address: string): string | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (m === null) return `expected HOST:PORT, got "${address}"`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port ${port} must be in the range 1..65535`;
  const host = m[1] ?? m[2]!;
  if (m[1] === undefined && !fqdnOk(host) && !/^\d+\.\d+\.\d+\.\d+$/.test(host)) {
    return `"${host}" is not a valid hostname or an IP address`;
  }
  return undefined;
}

function fqdnOk(host: string): boolean {
  if (host.length === 0 || host.length > 255) return false;
  const parts = host.split(".");
  if (/^\d+$/.test(parts[parts.length - 1]!)) return false;
  return parts.every((p, i) => (i === parts.length - 1 && p === "") || isDns1123Label(p));
}

/** Istio's failover rules (ValidateLocalityLbSetting): different regions, regions only, no wildcards. */
function checkFailover(f: SpecFields, setting: LocalityLoadBalancerSetting): void {
  const items = f.list("failover");
  setting.failover.forEach((rule, i) => {
    const at = items[i]?.path ?? f.at("failover");
    if (rule.from !== "" && rule.from === rule.to) f.ctx.error(at, "failover from and to must be different regions");
    if (rule.from.includes("/") || rule.to.includes("/")) f.ctx.error(at, "failover names regions only (no '/')");
    if (rule.from.includes("*") || rule.to.includes("*")) f.ctx.error(at, "failover regions must not contain '*'");
  });
}

/** Istio's validateLocalities: at most one '*', at the end; no empty parts; no locality covered twice. */
function checkLocalities(f: SpecFields, setting: LocalityLoadBalancerSetting): void {
  const items = f.list("distribute");
  const check = (localities: string[], at: string): void => {
    const seen: string[][] = [];
    for (const locality of localities) {
      const stars = locality.split("*").length - 1;
      if (stars > 1 || (stars === 1 && !locality.endsWith("*"))) {
        f.ctx.error(at, `locality ${locality}: at most one '*' wildcard, at the end`);
        continue;
      }
      const parts = locality.split("/", 3);
      if (parts.some((p) => p === "")) {
        f.ctx.error(at, `locality ${locality} must not contain an empty region/zone/subzone`);
        continue;
      }
      const covers = (a: string[], b: string[]): boolean =>
        a.every((p, i) => p === "*" || i >= b.length || p === b[i]) || b.every((p, i) => p === "*" || p === a[i]);
      if (seen.some((s) => covers(s, parts))) f.ctx.error(at, `locality ${locality} overlaps one written before`);
      seen.push(parts);
    }
  };
  setting.distribute.forEach((rule, i) => {
    const at = items[i]?.path ?? f.at("distribute");
    check(Object.keys(rule.to), `${at}.to`);
  });
  check(
    setting.distribute.map((d) => d.from).filter((from) => from !== ""),
    f.at("distribute"),
  );
}

/** accessLogFormat under JSON encoding: a JSON object of strings (Istio unmarshals it into json_format). */
export function jsonLabels(format: string): Record<string, string> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(format);
  } catch (err) {
    return `with accessLogEncoding JSON, expected a JSON object of log fields, got invalid JSON (${(err as Error).message})`;
  }
  if (!isPlainObject(parsed)) return `with accessLogEncoding JSON, expected a JSON object, got ${describe(parsed)}`;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== "string") return `with accessLogEncoding JSON, field "${key}" must be a string`;
    out[key] = value;
  }
  return out;
}

export function providerKind(p: ExtensionProvider): ProviderKind | undefined {
  return PROVIDER_KINDS.find((k) => p[k] !== undefined);
}

/** Real provider types Trellis has no counterpart for. */
const OTHER_PROVIDERS = [
  "skywalking",
  "datadog",
  "lightstep",
  "stackdriver",
  "envoyOtelAls",
  "envoyHttpAls",
  "envoyTcpAls",
  "sds",
];

const PROVIDER_FIELDS: Record<ProviderKind, readonly string[]> = {
  zipkin: ["service", "port", "maxTagLength", "enable64bitTraceId", "path", "traceContextOption", "timeout", "headers"],
  opentelemetry: ["service", "port", "maxTagLength", "http", "grpc", "resourceDetectors", "dynatraceSampler"],
  envoyExtAuthzHttp: [
    "service",
    "port",
    "timeout",
    "pathPrefix",
    "failOpen",
    "clearRouteCache",
    "statusOnError",
    "includeHeadersInCheck",
    "includeRequestHeadersInCheck",
    "includeAdditionalHeadersInCheck",
    "includeRequestBodyInCheck",
    "headersToUpstreamOnAllow",
    "headersToDownstreamOnDeny",
    "headersToDownstreamOnAllow",
  ],
  envoyExtAuthzGrpc: [
    "service",
    "port",
    "timeout",
    "failOpen",
    "clearRouteCache",
    "statusOnError",
    "includeRequestBodyInCheck",
  ],
  prometheus: [],
  envoyFileAccessLog: ["path", "logFormat"],
};

const PROVIDER_EFFECT: Record<ProviderKind, string> = {
  zipkin: "Trellis sidecars do not send spans yet (the observability issue)",
  opentelemetry: "Trellis sidecars do not send spans yet (the observability issue)",
  envoyExtAuthzHttp: "AuthorizationPolicy CUSTOM actions are enforced with the security issue",
  envoyExtAuthzGrpc: "AuthorizationPolicy CUSTOM actions are enforced with the security issue",
  prometheus: "",
  envoyFileAccessLog: "",
};

function readProviders(f: SpecFields, notices: MeshConfigIssue[]): ExtensionProvider[] {
  const out: ExtensionProvider[] = [];
  const names = new Map<string, number>();
  for (const [index, item] of f.list("extensionProviders").entries()) {
    const p = SpecFields.open(f.ctx, item.value, item.path, { known: ["name", ...PROVIDER_KINDS, ...OTHER_PROVIDERS] });
    if (p.broken) continue;
    const name = p.requiredString("name");
    if (name !== "") {
      const first = names.get(name);
      if (first !== undefined) p.error("name", `"${name}" is already the name of extensionProviders[${first}]`);
      else names.set(name, index);
    }
    const kind = p.oneOf([...PROVIDER_KINDS, ...OTHER_PROVIDERS], true);
    if (kind === undefined) continue;
    if ((OTHER_PROVIDERS as readonly string[]).includes(kind)) {
      p.error(kind, `provider type "${kind}" is not supported by Trellis (supported: ${PROVIDER_KINDS.join(", ")})`);
      continue;
    }
    const k = kind as ProviderKind;
    const s = p.message(k, { known: PROVIDER_FIELDS[k] });
    checkProvider(k, s);
    const settings = isPlainObject(p.raw(k)) ? (p.raw(k) as Record<string, unknown>) : {};
    out.push({ name, [k]: settings });
    if (PROVIDER_EFFECT[k] !== "") {
      notices.push({ path: item.path, message: `${NOT_ENFORCED}: ${PROVIDER_EFFECT[k]}` });
    }
  }
  return out;
}

function checkProvider(kind: ProviderKind, s: SpecFields): void {
  if (s.broken) return;
  if (kind === "prometheus") return;
  if (kind === "envoyFileAccessLog") {
    s.requiredString("path");
    if (s.has("logFormat")) {
      const l = s.message("logFormat", { known: ["text", "labels", "omitEmptyValues"] });
      l.oneOf(["text", "labels"], false);
      l.string("text");
      l.bool("omitEmptyValues");
      if (l.has("labels")) {
        for (const entry of l.entries("labels")) {
          if (typeof entry.value !== "string") {
            s.ctx.error(
              entry.path,
              `expected a string (a format operator like "%RESPONSE_CODE%"), got ${describe(entry.value)}`,
            );
          }
        }
      }
    }
    return;
  }
  // Every remote provider names a service and a port (Istio: validateExtensionProviderService, ValidatePort).
  const service = s.requiredString("service");
  if (service !== "") {
    const slash = service.indexOf("/");
    const [ns, host] = slash < 0 ? [undefined, service] : [service.slice(0, slash), service.slice(slash + 1)];
    if (ns !== undefined && !isDns1123Label(ns)) s.error("service", `"${ns}" is not a namespace name`);
    if (!fqdnOk(host))
      s.error("service", `expected a service host (like my-svc.my-ns.svc.cluster.local), got "${host}"`);
  }
  if (s.require("port")) s.integer("port", 1, 65535);
  s.duration("timeout", 1);
  if (kind === "envoyExtAuthzHttp") {
    const prefix = s.string("pathPrefix");
    if (prefix !== undefined && prefix !== "" && !prefix.startsWith("/")) {
      s.error("pathPrefix", `must begin with "/", got "${prefix}"`);
    }
  }
  if (kind === "envoyExtAuthzHttp" || kind === "envoyExtAuthzGrpc") {
    const status = s.string("statusOnError");
    if (status !== undefined && status !== "") {
      const n = Number(status);
      if (!Number.isInteger(n) || n < 100 || n > 599)
        s.error("statusOnError", `expected an HTTP status code, got "${status}"`);
    }
    s.bool("failOpen");
  }
  if (kind === "opentelemetry") s.oneOf(["http", "grpc"], false);
  if (kind === "zipkin" || kind === "opentelemetry") s.integer("maxTagLength", 0, 2_147_483_647);
}

/**
 * The access logs every sidecar's listeners get. As in Istio, defaultProviders.accessLogging (envoyFileAccessLog
 * providers, the built-in `envoy` among them) wins over accessLogFile when it is set; else accessLogFile with
 * accessLogEncoding and accessLogFormat (empty: Istio's default format for the encoding).
 */
function effectiveAccessLogs(
  config: MeshConfig,
  prefix: string,
  warnings: MeshConfigIssue[],
  located: (i: ConfigIssue) => MeshConfigIssue,
): MeshAccessLog[] {
  const at = (name: string): string => childOf(prefix, name);
  if (config.defaultProviders.accessLogging.length > 0) {
    if (config.accessLogFile !== "") {
      warnings.push(
        located({
          path: at("accessLogFile"),
          message:
            "not used: defaultProviders.accessLogging is set, and its providers write the access log (as in Istio)",
        }),
      );
    }
    const out: MeshAccessLog[] = [];
    for (const [i, name] of config.defaultProviders.accessLogging.entries()) {
      const index = config.extensionProviders.findIndex((p) => p.name === name);
      const provider = index >= 0 ? config.extensionProviders[index] : BUILTIN_PROVIDERS.find((p) => p.name === name);
      const file = provider?.envoyFileAccessLog;
      if (file === undefined || typeof file.path !== "string") continue;
      // A built-in provider is written nowhere in the file: the default that names it is where it comes from.
      const source = index >= 0 ? at(`extensionProviders[${index}]`) : at(`defaultProviders.accessLogging[${i}]`);
      const logFormat = isPlainObject(file.logFormat) ? file.logFormat : {};
      if (isPlainObject(logFormat.labels)) {
        out.push({
          path: file.path,
          format: { kind: "json", labels: logFormat.labels as Record<string, string> },
          source,
        });
      } else {
        const text = typeof logFormat.text === "string" ? logFormat.text : "";
        out.push({ path: file.path, format: { kind: "text", text: text === "" ? ISTIO_TEXT_FORMAT : text }, source });
      }
    }
    return out;
  }
  if (config.accessLogFile === "") return [];
  const source = at("accessLogFile");
  if (config.accessLogEncoding === "JSON") {
    const labels = config.accessLogFormat === "" ? ISTIO_JSON_FORMAT : jsonLabels(config.accessLogFormat);
    return typeof labels === "string" ? [] : [{ path: config.accessLogFile, format: { kind: "json", labels }, source }];
  }
  const text = config.accessLogFormat === "" ? ISTIO_TEXT_FORMAT : withNewline(config.accessLogFormat);
  return [{ path: config.accessLogFile, format: { kind: "text", text }, source }];
}

/** Istio appends a newline to a text format that lacks one. */
function withNewline(format: string): string {
  return format.endsWith("\n") ? format : `${format}\n`;
}

/** Istio's default text access log format (EnvoyTextLogFormat, 1.9 onwards). */
export const ISTIO_TEXT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" ' +
  '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" ' +
  '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% ' +
  "%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% " +
  "%ROUTE_NAME%\n";

/** Istio's default JSON access log fields (EnvoyJSONLogFormatIstio). */
export const ISTIO_JSON_FORMAT: Readonly<Record<string, string>> = {
  start_time: "%START_TIME%",
  route_name: "%ROUTE_NAME%",
  method: "%REQ(:METHOD)%",
  path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
  protocol: "%PROTOCOL%",
  response_code: "%RESPONSE_CODE%",
  response_flags: "%RESPONSE_FLAGS%",
  response_code_details: "%RESPONSE_CODE_DETAILS%",
  connection_termination_details: "%CONNECTION_TERMINATION_DETAILS%",
  bytes_received: "%BYTES_RECEIVED%",
  bytes_sent: "%BYTES_SENT%",
  duration: "%DURATION%",
  upstream_service_time: "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
  x_forwarded_for: "%REQ(X-FORWARDED-FOR)%",
  user_agent: "%REQ(USER-AGENT)%",
  request_id: "%REQ(X-REQUEST-ID)%",
  authority: "%REQ(:AUTHORITY)%",
  upstream_host: "%UPSTREAM_HOST%",
  upstream_cluster: "%UPSTREAM_CLUSTER%",
  upstream_local_address: "%UPSTREAM_LOCAL_ADDRESS%",
  downstream_local_address: "%DOWNSTREAM_LOCAL_ADDRESS%",
  downstream_remote_address: "%DOWNSTREAM_REMOTE_ADDRESS%",
  requested_server_name: "%REQUESTED_SERVER_NAME%",
  upstream_transport_failure_reason: "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
};

/**
 * The line of a field path (`a.b[2].c`, `a["k.x"]`) in the parsed document: the deepest node the path reaches (a
 * missing required field points at its parent), or undefined.
 */
function lineOfPath(doc: Document.Parsed, counter: LineCounter, path: string): number | undefined {
  const segments: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  for (const m of path.matchAll(re)) {
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) segments.push(Number(m[2]));
    else if (m[3] !== undefined) segments.push(JSON.parse(`"${m[3]}"`) as string);
  }
  for (let n = segments.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true);
    if (isNode(node) && node.range !== undefined && node.range !== null) {
      // A field's value node: point at its key's line when the value starts on a later line (a block map/list).
      const key = n === 0 ? undefined : keyNodeLine(doc, segments.slice(0, n), counter);
      return key ?? counter.linePos(node.range[0]).line;
    }
  }
  return undefined;
}

/** The line of the key of the last path segment (maps only). */
function keyNodeLine(doc: Document.Parsed, segments: (string | number)[], counter: LineCounter): number | undefined {
  const last = segments[segments.length - 1];
  if (typeof last !== "string") return undefined;
  const parent = segments.length === 1 ? doc.contents : doc.getIn(segments.slice(0, -1), true);
  if (parent === null || typeof parent !== "object" || !("items" in parent)) return undefined;
  for (const pair of (parent as { items: unknown[] }).items) {
    const key = (pair as { key?: unknown }).key;
    if (isNode(key) && (key as unknown as { value?: unknown }).value === last && key.range) {
      return counter.linePos(key.range[0]).line;
    }
  }
  return undefined;
}
