import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadResources, readResourceFile, validateResources } from "./load.ts";
import { resourceKey } from "./serialize.ts";
import { ResourceValidationError } from "./errors.ts";
import { ConfigError } from "../errors.ts";
import { problemsOf, resource } from "./testing.ts";

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");

describe("loadResources: files of many documents", () => {
  test("one error for the whole file: every problem with its document index, resource and field path", () => {
    let caught: unknown;
    try {
      loadResources(fixture("many-errors.yaml"), "many-errors.yaml");
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof ResourceValidationError);
    assert.ok(caught instanceof ConfigError, "a ConfigError, like every configuration problem");
    assert.equal(caught.code, "TRELLIS_RESOURCE_INVALID");
    assert.equal(caught.source, "many-errors.yaml");
    assert.deepEqual(
      caught.problems.map((p) => [p.file, p.document, p.resource, p.path]),
      [
        ["many-errors.yaml", 1, "VirtualService/default/reviews", "spec.http[0].route"],
        ["many-errors.yaml", 1, "VirtualService/default/reviews", "spec.http[0].retries.attempts"],
        ["many-errors.yaml", 1, "VirtualService/default/reviews", "spec.http[0].retries.perTryTimeout"],
        ["many-errors.yaml", 2, "DestinationRule/default/reviews", "apiVersion"],
        ["many-errors.yaml", 3, undefined, ""],
      ],
    );
    assert.match(caught.problems[4].message, /^not valid YAML or JSON \(line \d+, column \d+\): /);
    const lines = caught.message.split("\n");
    assert.equal(lines[0], "many-errors.yaml: invalid configuration:");
    assert.equal(
      lines[1],
      "  - document 1 (VirtualService/default/reviews) spec.http[0].route: expected the weights of its destinations to sum to more than 0 (they are relative), got 0",
    );
    assert.equal(
      lines[4],
      '  - document 2 (DestinationRule/default/reviews) apiVersion: expected one of networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3 for a DestinationRule, got "networking.istio.io/v2"',
    );
  });

  test("several kinds in one file, in order; empty documents and comments skipped", () => {
    const text = [
      fixture("virtual-service-reviews-test-v2.yaml"),
      "# nothing here\n",
      fixture("destination-rule-all.yaml"),
    ].join("\n---\n");
    const { resources, warnings } = loadResources(text, "bookinfo.yaml");
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      resources.map((r) => `${r.kind}/${r.metadata.name}`),
      [
        "VirtualService/reviews",
        "DestinationRule/productpage",
        "DestinationRule/reviews",
        "DestinationRule/ratings",
        "DestinationRule/details",
      ],
    );
    assert.deepEqual(loadResources("", "empty.yaml"), { resources: [], warnings: [] });
  });

  test("JSON, and a List's items (what kubectl get -o yaml writes), with item paths", () => {
    const vs = resource("VirtualService", { hosts: ["a"], http: [{ route: [{ destination: { host: "a" } }] }] }, "a");
    assert.equal(loadResources(JSON.stringify(vs, null, 2), "a.json").resources[0].metadata.name, "a");
    const list = {
      apiVersion: "v1",
      kind: "List",
      items: [vs, { ...vs, metadata: { name: "b" }, spec: { hosts: [] } }],
    };
    assert.deepEqual(problemsOf(JSON.stringify(list)), [
      [0, "items[1].spec", "expected at least one of http, tls, tcp"],
    ]);
    assert.deepEqual(problemsOf("kind: List\nitems: nope\n"), [[0, "items", "expected a list of resources in a List"]]);
  });

  test("the envelope: kind, apiVersion per kind, metadata.name as a DNS-1123 subdomain, namespace defaults", () => {
    const spec = { hosts: ["a"], http: [{ route: [{ destination: { host: "a" } }] }] };
    assert.deepEqual(
      problemsOf(
        JSON.stringify({ apiVersion: "networking.istio.io/v1", kind: "VirtualServce", metadata: { name: "a" }, spec }),
      ),
      [
        [
          0,
          "kind",
          'expected one of VirtualService, DestinationRule, ServiceEntry, Gateway, Sidecar, WorkloadEntry, PeerAuthentication, AuthorizationPolicy, RequestAuthentication, Telemetry, GatewayClass, HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, ReferenceGrant, got "VirtualServce"',
        ],
      ],
    );
    assert.deepEqual(
      problemsOf(
        JSON.stringify({ apiVersion: "security.istio.io/v1", kind: "VirtualService", metadata: { name: "a" }, spec }),
      ),
      [
        [
          0,
          "apiVersion",
          'expected one of networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3 for a VirtualService, got "security.istio.io/v1"',
        ],
      ],
    );
    assert.deepEqual(
      problemsOf(
        JSON.stringify({
          apiVersion: "networking.istio.io/v1",
          kind: "PeerAuthentication",
          metadata: { name: "a" },
          spec: {},
        }),
      ),
      [
        [
          0,
          "apiVersion",
          'expected one of security.istio.io/v1, security.istio.io/v1beta1 for a PeerAuthentication, got "networking.istio.io/v1"',
        ],
      ],
    );
    assert.deepEqual(
      problemsOf(
        JSON.stringify({
          apiVersion: "networking.istio.io/v1",
          kind: "VirtualService",
          metadata: { name: "Reviews_v1", namespace: "Prod" },
          spec,
        }),
      ),
      [
        [
          0,
          "metadata.name",
          'expected a DNS-1123 subdomain (lower case letters, digits, "-" and ".", at most 253), got "Reviews_v1"',
        ],
        [
          0,
          "metadata.namespace",
          'expected a DNS-1123 label (lower case letters, digits and "-", at most 63), got "Prod"',
        ],
      ],
    );
    // A Sidecar that configures nothing is refused (Istio: "sidecar: empty configuration provided"): one egress.
    const egress = { egress: [{ hosts: ["./*"] }] };
    assert.deepEqual(problemsOf(JSON.stringify({ kind: "Sidecar", spec: egress })), [
      [0, "apiVersion", "required"],
      [0, "metadata", "required"],
    ]);
    assert.deepEqual(problemsOf("- just\n- a list\n"), [[0, "", "expected an object, got a list"]]);
    for (const [apiVersion, kind] of [
      ["networking.istio.io/v1alpha3", "Sidecar"],
      ["networking.istio.io/v1beta1", "Sidecar"],
      ["security.istio.io/v1beta1", "PeerAuthentication"],
      ["telemetry.istio.io/v1alpha1", "Telemetry"],
    ]) {
      const loaded = loadResources(
        JSON.stringify({
          apiVersion,
          kind,
          metadata: { name: "x", labels: { team: "a" } },
          spec: kind === "Sidecar" ? egress : {},
        }),
        "f.yaml",
      );
      assert.deepEqual(loaded.resources[0].metadata, {
        name: "x",
        namespace: "default",
        labels: { team: "a" },
        annotations: {},
      });
    }
  });

  test("what Kubernetes adds (status, uid, creationTimestamp) is dropped quietly; other unknown fields are warnings", () => {
    const doc = {
      ...resource("Sidecar", { egress: [{ hosts: ["./*"] }] }, "s"),
      status: { conditions: [] },
      extra: 1,
      metadata: {
        name: "s",
        namespace: "prod",
        uid: "1234",
        creationTimestamp: "2024-01-01T00:00:00Z",
        generation: 3,
        labelz: {},
      },
    };
    const { resources, warnings } = loadResources(JSON.stringify(doc), "s.yaml");
    assert.equal(resources[0].metadata.namespace, "prod");
    assert.deepEqual(
      warnings.map((w) => [w.file, w.document, w.resource, w.path, w.message.replace(/ \(known here.*$/, "")]),
      [
        ["s.yaml", 0, "Sidecar/prod/s", "extra", 'unknown field "extra" ignored'],
        ["s.yaml", 0, "Sidecar/prod/s", "metadata.labelz", 'unknown field "labelz" ignored'],
      ],
    );
  });

  test("the same resource twice in a file is refused, naming both documents", () => {
    const vs = JSON.stringify(
      resource("VirtualService", { hosts: ["a"], http: [{ route: [{ destination: { host: "a" } }] }] }, "a"),
    );
    assert.deepEqual(problemsOf(`${vs}\n---\n${vs}\n`), [
      [1, "metadata.name", "VirtualService/default/a is also document 0: each resource may appear once in a file"],
    ]);
  });

  test("duplicate keys and anchors bombs are YAML errors, not crashes", () => {
    const problems = problemsOf("kind: Sidecar\nkind: Gateway\n");
    assert.equal(problems.length, 1);
    assert.match(problems[0][2], /^not valid YAML or JSON/);
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
    ].join("\n");
    assert.deepEqual(problemsOf(bomb), [
      [0, "", "not usable YAML: Excessive alias count indicates a resource exhaustion attack"],
    ]);
  });
});

describe("validateResources: resources that arrive as data (the HTTP API)", () => {
  test("same checks, same error, indexes by position", () => {
    const good = resource("Sidecar", { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } }, "s");
    assert.equal(validateResources([good], "request").resources.length, 1);
    assert.throws(
      () => validateResources([good, { ...good, spec: { outboundTrafficPolicy: { mode: "NONE" } } }], "request"),
      (error: unknown) =>
        error instanceof ResourceValidationError &&
        error.problems.length === 1 &&
        error.problems[0].document === 1 &&
        error.problems[0].path === "spec.outboundTrafficPolicy.mode",
    );
  });
});

describe("Kubernetes objects beside Istio's resources (as Istio's samples write files)", () => {
  const sample = [
    "apiVersion: v1",
    "kind: Service",
    "metadata:",
    "  name: reviews",
    "  labels: {app: reviews}",
    "spec:",
    "  ports:",
    "  - port: 9080",
    "    name: http",
    "  selector: {app: reviews}",
    "---",
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata: {name: reviews-v1, namespace: shop}",
    "spec: {replicas: 1}",
    "---",
    "apiVersion: networking.istio.io/v1",
    "kind: DestinationRule",
    "metadata:",
    "  name: reviews",
    "spec:",
    "  host: reviews",
    "  subsets:",
    "  - name: v1",
    "    labels: {version: v1}",
    "",
  ].join("\n");

  test("are skipped with one warning each; the Istio resources load", () => {
    const { resources, warnings } = loadResources(sample, "bookinfo.yaml");
    assert.deepEqual(
      resources.map((r) => resourceKey(r)),
      ["DestinationRule/default/reviews"],
    );
    assert.deepEqual(
      warnings.map((w) => [w.document, w.resource, w.line, w.message]),
      [
        [0, "Service/default/reviews", 1, "a Kubernetes Service (v1), not an Istio resource: skipped"],
        [1, "Deployment/shop/reviews-v1", 12, "a Kubernetes Deployment (apps/v1), not an Istio resource: skipped"],
      ],
    );
  });

  test("readResourceFile keeps them, with where each resource came from", () => {
    const reading = readResourceFile(sample, "bookinfo.yaml");
    assert.deepEqual(
      reading.kubernetes.map((k) => [k.kind, k.namespace, k.name, k.origin.line]),
      [
        ["Service", "default", "reviews", 1],
        ["Deployment", "shop", "reviews-v1", 12],
      ],
    );
    assert.deepEqual(
      reading.origins.map((o) => [o.file, o.document, o.line, o.lineOf?.("spec.subsets[0].labels")]),
      [["bookinfo.yaml", 2, 17, 25]],
    );
  });

  test("Istio's unknown kinds, the Gateway API's unconverted kinds and an Istio kind with a Kubernetes apiVersion are still refused", () => {
    assert.deepEqual(
      problemsOf("apiVersion: v1\nkind: VirtualService\nmetadata: {name: a}\nspec: {hosts: [a], http: []}\n").map(
        ([d, p]) => [d, p],
      ),
      [
        [0, "apiVersion"],
        [0, "spec"],
      ],
    );
    assert.deepEqual(
      problemsOf("apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: UDPRoute\nmetadata: {name: a}\nspec: {}\n").map(
        ([d, p]) => [d, p],
      ),
      [[0, "kind"]],
    );
  });
});

describe("readResourceFile: one bad document does not hide the others", () => {
  test("good documents are read, bad ones reported with their line", () => {
    const text = [
      "apiVersion: networking.istio.io/v1",
      "kind: VirtualService",
      "metadata: {name: good}",
      "spec:",
      "  hosts: [a]",
      "  http:",
      "  - route:",
      "    - destination: {host: a, subsett: v1}",
      "---",
      "apiVersion: networking.istio.io/v1",
      "kind: DestinationRule",
      "metadata: {name: bad}",
      "spec:",
      "  host: a",
      "  trafficPolicy: {loadBalancer: {simple: SOMETIMES}}",
      "---",
      "this: is: not yaml",
      "",
    ].join("\n");
    const reading = readResourceFile(text, "mixed.yaml");
    assert.deepEqual(
      reading.resources.map((r) => resourceKey(r)),
      ["VirtualService/default/good"],
    );
    assert.deepEqual(
      reading.warnings.map((w) => [w.resource, w.path, w.line]),
      [["VirtualService/default/good", "spec.http[0].route[0].destination.subsett", 8]],
    );
    assert.deepEqual(
      reading.problems.map((p) => [p.document, p.resource, p.path, p.line]),
      [
        [1, "DestinationRule/default/bad", "spec.trafficPolicy.loadBalancer.simple", 15],
        [2, undefined, "", 17],
      ],
    );
  });
});
