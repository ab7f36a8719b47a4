// Files as `trellis analyze -f` reads them, the way istioctl does: every document on its own (one bad document is a
// finding, IST0106, and the others are still analyzed), load warnings as findings (IST0133, deprecated spellings
// IST0002), Kubernetes Services read as hosts the mesh knows (their name, namespace and ports), other Kubernetes
// objects (Deployment, ServiceAccount…) set aside with one notice each.

import { readResourceFile, type KubernetesObject, type ResourceOrigin } from "../../api/resources/load.ts";
import type { Resource } from "../../api/resources/types.ts";
import { serviceFqdn } from "../translate/world.ts";
import { analyze, keyOf, sortFindings } from "./analyze.ts";
import type { KnownService } from "./context.ts";
import { MESSAGES, type Finding, type MessageType } from "./messages.ts";

export interface AnalysisFile {
  name: string;
  content: string;
}

export interface LoadedForAnalysis {
  resources: Resource[];
  origins: Map<string, ResourceOrigin>;
  /** The Kubernetes Services of the files, as hosts. */
  services: KnownService[];
  /** What loading found: documents that could not be read, load warnings. */
  findings: Finding[];
  /** One line per Kubernetes object set aside ("file:line: Deployment default/reviews-v1 …"). */
  notices: string[];
}

export interface AnalysisReport {
  findings: Finding[];
  notices: string[];
}

export function loadForAnalysis(files: readonly AnalysisFile[]): LoadedForAnalysis {
  const out: LoadedForAnalysis = { resources: [], origins: new Map(), services: [], findings: [], notices: [] };
  for (const file of files) {
    const reading = readResourceFile(file.content, file.name);
    reading.resources.forEach((r, i) => {
      out.resources.push(r);
      out.origins.set(keyOf(r), reading.origins[i]!);
    });
    for (const p of reading.problems)
      out.findings.push(
        finding(
          MESSAGES.SchemaValidationError,
          p.resource ?? "",
          `Schema validation error: ${at(p.path)}${p.message}`,
          {
            file: p.file,
            line: p.line,
          },
        ),
      );
    for (const w of reading.warnings) {
      // The warning that a Kubernetes object was set aside: a notice here (or, for a Service, nothing: it is read).
      if (w.message.startsWith("a Kubernetes ") && reading.kubernetes.some((k) => k.origin.document === w.document))
        continue;
      const type = /deprecated/i.test(w.message) ? MESSAGES.Deprecated : MESSAGES.SchemaWarning;
      const text =
        type === MESSAGES.Deprecated
          ? `Deprecated: ${at(w.path)}${w.message}`
          : `Schema validation warning: ${at(w.path)}${w.message}`;
      out.findings.push(finding(type, w.resource ?? "", text, { file: w.file, line: w.line }));
    }
    for (const k of reading.kubernetes) {
      if (k.kind === "Service" && k.apiVersion === "v1") {
        out.services.push(serviceOf(k));
        continue;
      }
      const where = k.origin.line === undefined ? k.origin.file : `${k.origin.file}:${k.origin.line}`;
      out.notices.push(
        `${where}: ${k.kind} ${k.namespace}/${k.name || "(no name)"} is a Kubernetes object, not an Istio resource: not analyzed`,
      );
    }
  }
  return out;
}

/** `trellis analyze --offline -f …`: the files alone, as istioctl analyzes files without a cluster. */
export function analyzeFiles(
  files: readonly AnalysisFile[],
  extra: (resources: readonly Resource[]) => readonly Finding[] = () => [],
): AnalysisReport {
  const loaded = loadForAnalysis(files);
  const resources = lastOfEach(loaded.resources);
  const extraFindings = extra(resources);
  const findings = analyze({
    resources,
    services: loaded.services,
    origins: loaded.origins,
    extraFindings: [...loaded.findings, ...extraFindings],
  });
  return { findings: sortFindings(findings), notices: loaded.notices };
}

/** The same resource in two files: the later one counts (as a later apply would replace it). */
export function lastOfEach(resources: readonly Resource[]): Resource[] {
  const byKey = new Map<string, Resource>();
  for (const r of resources) byKey.set(keyOf(r), r);
  return [...byKey.values()];
}

/**
 * A Kubernetes Service as a host: name.namespace.svc.cluster.local with its ports, visible where its
 * `networking.istio.io/exportTo` annotation says (everywhere without one).
 */
function serviceOf(k: KubernetesObject): KnownService {
  const spec = (k.raw.spec ?? {}) as { ports?: unknown };
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  const annotations = ((k.raw.metadata as { annotations?: unknown } | undefined)?.annotations ?? {}) as Record<
    string,
    unknown
  >;
  const exportTo = annotations["networking.istio.io/exportTo"];
  return {
    hostname: serviceFqdn(k.name, k.namespace),
    namespace: k.namespace,
    exportTo: typeof exportTo === "string" ? exportTo.split(",").map((e) => e.trim()) : [],
    ports: ports.flatMap((p: unknown) => {
      const port = p as { port?: unknown; name?: unknown; protocol?: unknown };
      if (typeof port?.port !== "number") return [];
      return [
        {
          number: port.port,
          ...(typeof port.name === "string" ? { name: port.name } : {}),
          ...(typeof port.protocol === "string" ? { protocol: port.protocol } : {}),
        },
      ];
    }),
  };
}

const at = (path: string): string => (path === "" ? "" : `${path}: `);

function finding(
  type: MessageType,
  resource: string,
  message: string,
  where: { file?: string; line?: number },
): Finding {
  return {
    level: type.level,
    code: type.code,
    name: type.name,
    resource,
    message,
    ...(where.file === undefined ? {} : { file: where.file }),
    ...(where.line === undefined ? {} : { line: where.line }),
  };
}
