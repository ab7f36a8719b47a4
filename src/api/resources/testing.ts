// Helpers for the resource tests: build a document from data (JSON is YAML), load it, and compare what came out.

import assert from "node:assert/strict";
import { loadResources } from "./load.ts";
import { ResourceValidationError } from "./errors.ts";
import type { Resource, ResourceKind } from "./types.ts";

const API_VERSIONS: Record<string, string> = {
  PeerAuthentication: "security.istio.io/v1",
  AuthorizationPolicy: "security.istio.io/v1",
  RequestAuthentication: "security.istio.io/v1",
  Telemetry: "telemetry.istio.io/v1",
  GatewayClass: "gateway.networking.k8s.io/v1",
  KubernetesGateway: "gateway.networking.k8s.io/v1",
  HTTPRoute: "gateway.networking.k8s.io/v1",
  GRPCRoute: "gateway.networking.k8s.io/v1",
  TLSRoute: "gateway.networking.k8s.io/v1alpha2",
  TCPRoute: "gateway.networking.k8s.io/v1alpha2",
  ReferenceGrant: "gateway.networking.k8s.io/v1beta1",
};

/** One resource of `kind` named `name` in namespace default, as a document. */
export function resource(kind: ResourceKind, spec: unknown, name = "r"): Record<string, unknown> {
  const written = kind === "KubernetesGateway" ? "Gateway" : kind;
  return { apiVersion: API_VERSIONS[kind] ?? "networking.istio.io/v1", kind: written, metadata: { name }, spec };
}

/** Loads one resource given as data; fails the test on any error. */
export function loadOne(document: unknown): { resource: Resource; warnings: [path: string, message: string][] } {
  const { resources, warnings } = loadResources(JSON.stringify(document), "test.yaml");
  assert.equal(resources.length, 1);
  return { resource: resources[0], warnings: warnings.map((w) => [w.path, w.message]) };
}

/** The spec of `kind` read from `spec`, asserting no warnings. */
export function specOf<T = unknown>(kind: ResourceKind, spec: unknown): T {
  const { resource: r, warnings } = loadOne(resource(kind, spec));
  assert.deepEqual(warnings, []);
  return r.spec as T;
}

/** The problems that loading `text` reports, as [document, path, message]. */
export function problemsOf(text: string): [document: number, path: string, message: string][] {
  try {
    loadResources(text, "test.yaml");
  } catch (error) {
    if (error instanceof ResourceValidationError) return error.problems.map((p) => [p.document, p.path, p.message]);
    throw error;
  }
  return assert.fail("expected a ResourceValidationError");
}

/** Exactly these problems (path, then message: a string matches exactly, a RegExp must match) for one spec. */
export function assertSpecProblems(
  kind: ResourceKind,
  spec: unknown,
  expected: [path: string, message: string | RegExp][],
): void {
  const problems = problemsOf(JSON.stringify(resource(kind, spec)));
  const shown = JSON.stringify(problems, null, 1);
  assert.equal(problems.length, expected.length, `problem count; got ${shown}`);
  expected.forEach(([path, message], i) => {
    assert.equal(problems[i][1], path, `problem ${i} path; got ${shown}`);
    if (typeof message === "string") assert.equal(problems[i][2], message, `problem ${i}; got ${shown}`);
    else assert.match(problems[i][2], message, `problem ${i}; got ${shown}`);
  });
}
