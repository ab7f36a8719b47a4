// DestinationRule lookup and merging as Istio does it (destination-rules.ts): creation order, exportTo, workload
// selectors, and the proxy → service → root namespace search.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { DestinationRule } from "../../api/resources/types.ts";
import { toResource, toService } from "./testing.ts";
import { World } from "./world-index.ts";

const REVIEWS = "reviews.default.svc.cluster.local";

function rule(
  name: string,
  namespace: string,
  spec: Record<string, unknown>,
  creationTimestamp?: string,
): DestinationRule {
  const metadata: Record<string, unknown> = { name, namespace };
  if (creationTimestamp !== undefined) metadata.creationTimestamp = creationTimestamp;
  return toResource({
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata,
    spec,
  }) as DestinationRule;
}

const subsets = (...names: string[]) => names.map((n) => ({ name: n, labels: { version: n } }));

function world(rules: DestinationRule[], rootNamespace?: string): World {
  const reviews = toService({ hostname: REVIEWS, ports: [{ name: "http", number: 9080, protocol: "HTTP" }] });
  return new World({
    registered: [reviews],
    destinationRules: rules,
    ...(rootNamespace !== undefined ? { rootNamespace } : {}),
  });
}

const subsetsFor = (w: World, namespace: string, labels: Record<string, string> = {}): string[] | undefined =>
  w.destinationRuleFor(REVIEWS, { namespace, labels })?.spec.subsets?.map((s) => s.name);

describe("merging rules of one namespace for one host", () => {
  test("the oldest rule's traffic policy wins, whatever the names; subsets are joined oldest first", () => {
    const w = world([
      rule(
        "a-new",
        "default",
        { host: "reviews", trafficPolicy: { loadBalancer: { simple: "RANDOM" } }, subsets: subsets("v2") },
        "2024-02-01T00:00:00Z",
      ),
      rule(
        "z-old",
        "default",
        { host: "reviews", trafficPolicy: { loadBalancer: { simple: "LEAST_REQUEST" } }, subsets: subsets("v1") },
        "2024-01-01T00:00:00Z",
      ),
    ]);
    const merged = w.destinationRuleFor(REVIEWS, { namespace: "default", labels: {} })!;
    assert.equal(merged.spec.trafficPolicy?.loadBalancer?.simple, "LEAST_REQUEST");
    assert.deepEqual(
      merged.spec.subsets?.map((s) => s.name),
      ["v1", "v2"],
    );
    assert.equal(merged.metadata.name, "z-old");
  });

  test("a later rule's traffic policy fills in when the first has none", () => {
    const w = world([
      rule("a", "default", { host: "reviews", subsets: subsets("v1") }),
      rule("b", "default", { host: "reviews", trafficPolicy: { loadBalancer: { simple: "RANDOM" } } }),
    ]);
    assert.equal(
      w.destinationRuleFor(REVIEWS, { namespace: "default", labels: {} })?.spec.trafficPolicy?.loadBalancer?.simple,
      "RANDOM",
    );
  });

  test("a duplicate subset keeps the first definition and is reported once", () => {
    const w = world([
      rule("a", "default", { host: "reviews", subsets: [{ name: "v1", labels: { version: "v1" } }] }),
      rule("b", "default", { host: "reviews", subsets: [{ name: "v1", labels: { version: "other" } }] }),
    ]);
    const merged = w.destinationRuleFor(REVIEWS, { namespace: "default", labels: {} })!;
    assert.deepEqual(merged.spec.subsets, [{ name: "v1", labels: { version: "v1" } }]);
    assert.deepEqual(
      w.problems.filter((p) => p.text.includes("subset v1")).map((p) => p.text),
      [
        "DestinationRule default/b: subset v1 of reviews.default.svc.cluster.local is already defined by " +
          "DestinationRule default/a; the first definition is kept",
      ],
    );
  });

  test("the source rules are left as they were", () => {
    const a = rule("a", "default", { host: "reviews", subsets: subsets("v1") });
    world([a, rule("b", "default", { host: "reviews", subsets: subsets("v2") })]);
    assert.deepEqual(
      a.spec.subsets?.map((s) => s.name),
      ["v1"],
    );
  });

  test("rules with different exportTo are not merged: another namespace sees only what is exported to it", () => {
    const w = world([
      rule("public", "default", { host: "reviews", subsets: subsets("v1") }),
      rule("private", "default", { host: "reviews", exportTo: ["."], subsets: subsets("v2") }),
    ]);
    assert.deepEqual(subsetsFor(w, "frontend"), ["v1"]);
  });

  test("a rule in another namespace is never merged with the service namespace's", () => {
    const w = world([
      rule("mine", "frontend", { host: REVIEWS, subsets: subsets("f1") }),
      rule("theirs", "default", { host: "reviews", subsets: subsets("v1") }),
    ]);
    assert.deepEqual(subsetsFor(w, "frontend"), ["f1"]);
    assert.deepEqual(subsetsFor(w, "default"), ["v1"]);
  });
});

describe("workload selectors", () => {
  const rules = [
    rule("plain", "default", { host: "reviews", subsets: subsets("v1") }),
    rule("canary", "default", {
      host: "reviews",
      workloadSelector: { labels: { app: "productpage" } },
      subsets: subsets("v9"),
    }),
    rule("canary-2", "default", {
      host: "reviews",
      workloadSelector: { labels: { app: "productpage" } },
      subsets: subsets("v8"),
    }),
  ];

  test("a selected proxy gets the selector's rules merged with each other, not with the selector-less one", () => {
    assert.deepEqual(subsetsFor(world(rules), "default", { app: "productpage" }), ["v9", "v8"]);
  });

  test("a proxy the selector does not select gets the selector-less rule", () => {
    assert.deepEqual(subsetsFor(world(rules), "default", { app: "ratings" }), ["v1"]);
  });

  test("a selector never reaches another namespace", () => {
    assert.deepEqual(subsetsFor(world(rules), "frontend", { app: "productpage" }), ["v1"]);
  });
});

describe("where a proxy looks", () => {
  test("its own namespace, then the service's, then the root namespace", () => {
    const root = rule("root", "istio-system", { host: REVIEWS, subsets: subsets("r") });
    const service = rule("svc", "default", { host: "reviews", subsets: subsets("s") });
    const own = rule("own", "frontend", { host: REVIEWS, subsets: subsets("o") });
    assert.deepEqual(subsetsFor(world([root, service, own]), "frontend"), ["o"]);
    assert.deepEqual(subsetsFor(world([root, service, own]), "backend"), ["s"]);
    assert.deepEqual(subsetsFor(world([root, own]), "backend"), ["r"]);
  });

  test("the root namespace is MeshConfig's rootNamespace", () => {
    const root = rule("root", "mesh-root", { host: REVIEWS, subsets: subsets("r") });
    assert.deepEqual(subsetsFor(world([root], "mesh-root"), "backend"), ["r"]);
    assert.equal(subsetsFor(world([root]), "backend"), undefined);
  });

  test("a rule private to the root namespace applies only to proxies there", () => {
    const root = rule("root", "istio-system", { host: REVIEWS, exportTo: ["."], subsets: subsets("r") });
    assert.deepEqual(subsetsFor(world([root]), "istio-system"), ["r"]);
    assert.equal(subsetsFor(world([root]), "backend"), undefined);
  });

  test("exportTo naming the proxy's namespace; the exact host beats a wildcard in the same namespace", () => {
    const named = rule("named", "default", { host: "reviews", exportTo: ["frontend"], subsets: subsets("n") });
    const wildcard = rule("wild", "default", { host: "*.default.svc.cluster.local", subsets: subsets("w") });
    assert.deepEqual(subsetsFor(world([wildcard, named]), "frontend"), ["n"]);
    // As Istio: the most specific host is chosen first and then checked for visibility; the wildcard is not tried.
    assert.equal(subsetsFor(world([wildcard, named]), "backend"), undefined);
    assert.deepEqual(subsetsFor(world([wildcard]), "backend"), ["w"]);
  });
});
