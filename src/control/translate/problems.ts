// What a translation could not do, for a person and for the tools that show it (apply's warnings, analyze's
// findings, proxy-status, a resource's status): translation never throws on a bad world; it skips what cannot be
// translated and says so here, once per distinct message, in the order found.
//
// Each problem is structured: the resource it is about (when there is one), the field path inside it, the message,
// and a code (Istio's IST0101 for a reference that resolves to nothing, else a Trellis TRL code). Call sites either
// say so (`add(message, { resource, path, code })`) or write the message Trellis has always written,
// "Kind namespace/name field: what happened", from which the resource and the path are read.

/** kind/namespace/name of an Istio resource. */
export interface ResourceRef {
  kind: string;
  namespace: string;
  name: string;
}

/** Istio's analysis message codes where one fits, else Trellis's own (never an Istio code with another meaning). */
export const PROBLEM_CODES = {
  /** A reference (host, subset, port, delegate) that resolves to nothing: Istio's ReferencedResourceNotFound. */
  IST0101: "ReferencedResourceNotFound",
  /** A host of a VirtualService bound to a Gateway that none of the Gateway's servers lists. */
  IST0132: "VirtualServiceHostNotFoundInGateway",
  /** Stored, but no proxy's configuration carries it out yet (a later issue enforces it). */
  TRL0001: "NotEnforced",
  /** Translation left a field out or approximated it: the proxy does something other than the field asks. */
  TRL0002: "NotTranslated",
  /** A Gateway server that no bound VirtualService routes: its requests or connections find no route. */
  TRL0003: "GatewayServerUnrouted",
} as const;

export type ProblemCode = keyof typeof PROBLEM_CODES;

export interface Problem {
  code: ProblemCode;
  /** The resource the problem is about; absent for problems of the mesh as a whole (a registered service…). */
  resource?: ResourceRef;
  /** The field path inside the resource ("spec.http[0].retries.retryOn"), when known. */
  path?: string;
  /** What happened, and what the proxy does instead. */
  message: string;
  /** The whole sentence, as it has always been written: "VirtualService default/r http[0]: …". */
  text: string;
  /** A note about the mesh as a whole, no resource of the user's at fault: reported as Info, not a Warning. */
  note?: true;
}

export interface ProblemAbout {
  resource?: ResourceRef;
  path?: string;
  code?: ProblemCode;
  /** The message without the resource and path the sentence starts with (with `resource`); default: the sentence. */
  message?: string;
  note?: true;
}

const KINDS = [
  "VirtualService",
  "DestinationRule",
  "ServiceEntry",
  "Gateway",
  "Sidecar",
  "WorkloadEntry",
  "PeerAuthentication",
  "AuthorizationPolicy",
  "RequestAuthentication",
  "Telemetry",
];
// "Kind ns/name[ where]: message" — `where` is a field path ("http[0]", "ingress[1]", "tcp") or nothing.
const SENTENCE = new RegExp(`^(${KINDS.join("|")}) ([^/\\s:]+)/([^\\s:]+)(?: ([^:]*?))?: (.*)$`, "s");
// "field.path: message" at the start of the message: the path continues into the resource.
const FIELD = /^([a-zA-Z][\w]*(?:\[\d+\])?(?:\.[a-zA-Z][\w]*(?:\[\d+\])?)*): (.*)$/s;
const PATH = /^[a-zA-Z][\w]*(?:\[\d+\])?(?:\.[a-zA-Z][\w]*(?:\[\d+\])?)*$/;
// References that resolve to nothing (IST0101).
const UNRESOLVED =
  /matches no service|is not reachable from this proxy|is not defined by any DestinationRule|is not a port of|delegate VirtualService .* not found/;

/** Reads a sentence as Trellis's translation writes it into a structured problem. */
export function problemOf(text: string, about: ProblemAbout = {}): Problem {
  let resource = about.resource;
  let path = about.path;
  let message = about.message ?? text;
  const m = resource === undefined ? SENTENCE.exec(text) : null;
  if (m !== null) {
    resource = { kind: m[1]!, namespace: m[2]!, name: m[3]! };
    const where = m[4]?.trim();
    message = m[5]!;
    const field = FIELD.exec(message);
    const inner = field?.[1];
    if (where === undefined || PATH.test(where)) {
      // "http[0]" then "retries.retryOn": the field path inside the resource's spec.
      const parts = [where, inner].filter((p): p is string => p !== undefined);
      if (path === undefined && parts.length > 0) path = `spec.${parts.join(".")}`;
      if (inner !== undefined) message = field![2]!;
    } else {
      // "cluster outbound|…", "http[0] (delegate ns/d http[1])": not a path; it stays part of the message.
      message = `${where}: ${message}`;
    }
  }
  const code = about.code ?? (UNRESOLVED.test(text) ? "IST0101" : "TRL0002");
  return {
    code,
    ...(resource !== undefined && { resource }),
    ...(path !== undefined && { path }),
    message,
    text,
    ...(about.note === true && { note: true as const }),
  };
}

/** The reference to a resource, for `add(message, { resource })`. */
export function refOf(r: { kind: string; metadata: { namespace: string; name: string } }): ResourceRef {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

/** "Kind/namespace/name", the key analyze and the store use. */
export function refKey(r: ResourceRef): string {
  return `${r.kind}/${r.namespace}/${r.name}`;
}

export class Problems {
  private readonly seen = new Set<string>();
  /** Each problem's sentence, in the order found. */
  readonly list: string[] = [];
  /** The same problems, structured. */
  readonly items: Problem[] = [];

  add(message: string, about?: ProblemAbout): void {
    if (this.seen.has(message)) return;
    this.seen.add(message);
    this.list.push(message);
    this.items.push(problemOf(message, about));
  }

  /** Adds sentences, or problems already structured (kept as they are). */
  addAll(problems: readonly (string | Problem)[]): void {
    for (const p of problems) {
      if (typeof p === "string") this.add(p);
      else if (!this.seen.has(p.text)) {
        this.seen.add(p.text);
        this.list.push(p.text);
        this.items.push(p);
      }
    }
  }
}
