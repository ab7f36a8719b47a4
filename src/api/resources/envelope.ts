// One resource from one document: the envelope (apiVersion, kind, metadata) checked here, the spec handed to the
// kind's reader. The accepted apiVersions are Istio's served versions for each kind; anything else is refused with
// the list, because a typo in the group would otherwise turn into a confusing "unknown kind".

import type { ObjectMeta, Resource, ResourceKind } from "./types.ts";
import { RESOURCE_KINDS } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { isDns1123Label, isDns1123Subdomain, readLabels } from "./common.ts";
import { readVirtualServiceSpec } from "./virtual-service.ts";
import { readDestinationRuleSpec } from "./destination-rule.ts";
import { readServiceEntrySpec } from "./service-entry.ts";
import { readGatewaySpec } from "./gateway.ts";
import { readSidecarSpec } from "./sidecar.ts";
import { readWorkloadEntrySpec } from "./workload-entry.ts";
import { readPeerAuthenticationSpec } from "./peer-authentication.ts";
import { readAuthorizationPolicySpec } from "./authorization-policy.ts";
import { readRequestAuthenticationSpec } from "./request-authentication.ts";
import { readTelemetrySpec } from "./telemetry.ts";
import {
  readGatewayClassSpec,
  readGRPCRouteSpec,
  readHTTPRouteSpec,
  readKubernetesGatewaySpec,
  readReferenceGrantSpec,
  readTCPRouteSpec,
  readTLSRouteSpec,
} from "./gateway-api/read.ts";
import { GATEWAY_API_GROUP, KUBERNETES_GATEWAY } from "./gateway-api/types.ts";
import { describe } from "../xds/parse/context.ts";

const NETWORKING = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"];
const SECURITY = ["security.istio.io/v1", "security.istio.io/v1beta1"];
const TELEMETRY = ["telemetry.istio.io/v1", "telemetry.istio.io/v1alpha1"];
const GATEWAY_API = [`${GATEWAY_API_GROUP}/v1`, `${GATEWAY_API_GROUP}/v1beta1`];

type SpecReader = (ctx: ResourceContext, raw: unknown, path: string) => unknown;

export const KINDS: Record<ResourceKind, { apiVersions: readonly string[]; read: SpecReader }> = {
  VirtualService: { apiVersions: NETWORKING, read: readVirtualServiceSpec },
  DestinationRule: { apiVersions: NETWORKING, read: readDestinationRuleSpec },
  ServiceEntry: { apiVersions: NETWORKING, read: readServiceEntrySpec },
  Gateway: { apiVersions: NETWORKING, read: readGatewaySpec },
  Sidecar: { apiVersions: NETWORKING, read: readSidecarSpec },
  WorkloadEntry: { apiVersions: NETWORKING, read: readWorkloadEntrySpec },
  PeerAuthentication: { apiVersions: SECURITY, read: readPeerAuthenticationSpec },
  AuthorizationPolicy: { apiVersions: SECURITY, read: readAuthorizationPolicySpec },
  RequestAuthentication: { apiVersions: SECURITY, read: readRequestAuthenticationSpec },
  Telemetry: { apiVersions: TELEMETRY, read: readTelemetrySpec },
  GatewayClass: { apiVersions: GATEWAY_API, read: readGatewayClassSpec },
  KubernetesGateway: { apiVersions: GATEWAY_API, read: readKubernetesGatewaySpec },
  HTTPRoute: { apiVersions: GATEWAY_API, read: readHTTPRouteSpec },
  GRPCRoute: { apiVersions: [`${GATEWAY_API_GROUP}/v1`, `${GATEWAY_API_GROUP}/v1alpha2`], read: readGRPCRouteSpec },
  // The versions Istio serves them in (TLSRoute and TCPRoute are experimental: v1alpha2 only).
  TLSRoute: { apiVersions: [`${GATEWAY_API_GROUP}/v1alpha2`], read: readTLSRouteSpec },
  TCPRoute: { apiVersions: [`${GATEWAY_API_GROUP}/v1alpha2`], read: readTCPRouteSpec },
  ReferenceGrant: {
    apiVersions: [`${GATEWAY_API_GROUP}/v1beta1`, `${GATEWAY_API_GROUP}/v1alpha2`],
    read: readReferenceGrantSpec,
  },
};

/** The Gateway API's kinds Trellis does not convert: refused by name, with what to use instead. */
const GATEWAY_API_REFUSED: Record<string, string> = {
  UDPRoute: "a UDPRoute is not converted by Trellis: its gateways carry no UDP",
  BackendTLSPolicy: "a BackendTLSPolicy is not read by Trellis yet: use an Istio DestinationRule's tls",
};

/** The API group of an apiVersion ("" for the core group's "v1"). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/**
 * The kind Trellis keeps a document as: the Gateway API's Gateway becomes "KubernetesGateway" (Istio's internal
 * name), so it never collides with Istio's Gateway; every other kind is itself.
 */
export function internalKind(kind: string, apiVersion: string): string {
  return kind === "Gateway" && groupOf(apiVersion) === GATEWAY_API_GROUP ? KUBERNETES_GATEWAY : kind;
}

/** The kind a document shows to users (the reverse of internalKind). */
export function documentKind(kind: string): string {
  return kind === KUBERNETES_GATEWAY ? "Gateway" : kind;
}

/** What Kubernetes puts in an object's envelope that says nothing about its meaning (kubectl get -o yaml output). */
const ENVELOPE = { known: ["apiVersion", "kind", "metadata", "spec"], ignored: ["status"] };
const METADATA = {
  known: ["name", "namespace", "labels", "annotations", "resourceVersion"],
  ignored: [
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "generateName",
    "selfLink",
    "finalizers",
    "ownerReferences",
  ],
};

export function isResourceKind(kind: unknown): kind is ResourceKind {
  return typeof kind === "string" && (RESOURCE_KINDS as readonly string[]).includes(kind);
}

/** `Kind/namespace/name` of a raw document, as far as it can be told (for locating problems). */
export function describeDocument(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const { kind, metadata } = raw as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const name = typeof metadata === "object" && metadata !== null ? metadata.name : undefined;
  if (typeof kind !== "string" || typeof name !== "string") return undefined;
  const namespace =
    typeof metadata?.namespace === "string" && metadata.namespace !== "" ? metadata.namespace : "default";
  return `${kind}/${namespace}/${name}`;
}

/** Reads one resource at `path` ("" for a whole document). Problems go to `ctx`; the result is only meaningful without errors. */
export function readResource(ctx: ResourceContext, raw: unknown, path: string): Resource {
  const f = SpecFields.open(ctx, withoutIgnored(raw, ENVELOPE.ignored), path, ENVELOPE);
  if (f.broken) return undefined as unknown as Resource;
  const written = f.requiredString("kind");
  const apiVersion = f.requiredString("apiVersion");
  const kind = internalKind(written, apiVersion);
  const metadata = readMetadata(ctx, f);
  if (groupOf(apiVersion) === GATEWAY_API_GROUP && GATEWAY_API_REFUSED[kind] !== undefined) {
    f.error("kind", GATEWAY_API_REFUSED[kind]);
    return { apiVersion, kind, metadata, spec: {} } as unknown as Resource;
  }
  if (kind !== "" && !isResourceKind(kind)) {
    f.error(
      "kind",
      `expected one of ${RESOURCE_KINDS.filter((k) => k !== KUBERNETES_GATEWAY).join(", ")}, got ${describe(written)}`,
    );
    return { apiVersion, kind, metadata, spec: {} } as unknown as Resource;
  }
  if (kind === "") return { apiVersion, kind, metadata, spec: {} } as unknown as Resource;
  const { apiVersions, read } = KINDS[kind];
  if (apiVersion !== "" && !apiVersions.includes(apiVersion)) {
    f.error(
      "apiVersion",
      `expected one of ${apiVersions.join(", ")} for a ${documentKind(kind)}, got ${describe(apiVersion)}`,
    );
  }
  if (!f.has("spec")) f.error("spec", "required");
  const spec = read(ctx, f.raw("spec") ?? {}, f.at("spec"));
  return { apiVersion, kind, metadata, spec } as Resource;
}

function readMetadata(ctx: ResourceContext, f: SpecFields): ObjectMeta {
  if (!f.require("metadata")) return { name: "", namespace: "default", labels: {}, annotations: {} };
  const m = SpecFields.open(ctx, withoutIgnored(f.raw("metadata"), METADATA.ignored), f.at("metadata"), METADATA);
  const name = m.requiredString("name");
  if (name !== "" && !isDns1123Subdomain(name)) {
    m.error(
      "name",
      `expected a DNS-1123 subdomain (lower case letters, digits, "-" and ".", at most 253), got ${describe(name)}`,
    );
  }
  const namespace = m.string("namespace") ?? "default";
  if (!isDns1123Label(namespace)) {
    m.error(
      "namespace",
      `expected a DNS-1123 label (lower case letters, digits and "-", at most 63), got ${describe(namespace)}`,
    );
  }
  const metadata: ObjectMeta = {
    name,
    namespace: namespace === "" ? "default" : namespace,
    labels: readLabels(m, "labels"),
    annotations: m.stringMap("annotations"),
  };
  const resourceVersion = m.string("resourceVersion");
  if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion;
  return metadata;
}

/** Drops the keys Kubernetes adds to every object, so they are neither warned about nor kept. */
function withoutIgnored(raw: unknown, ignored: readonly string[]): unknown {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw;
  return Object.fromEntries(Object.entries(raw).filter(([key]) => !ignored.includes(key)));
}
