import { test } from "node:test";
import assert from "node:assert/strict";
import type { DestinationRule, HTTPRoute, ServiceEntry, VirtualService } from "../../api/resources/types.ts";
import { analyze, type Finding } from "./analyze.ts";
import { analyzeFiles } from "./files.ts";

const meta = (name: string, namespace = "default") => ({ name, namespace, labels: {}, annotations: {} });

function vs(name: string, hosts: string[], destinations: { host: string; subset?: string }[]): VirtualService {
  const route: HTTPRoute = {
    match: [],
    route: destinations.map((destination) => ({ destination, weight: Math.floor(100 / destinations.length) })),
    mirrors: [],
  };
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: meta(name),
    spec: { hosts, gateways: [], http: [route], tls: [], tcp: [], exportTo: [] },
  };
}

function dr(name: string, host: string, subsets: string[]): DestinationRule {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: meta(name),
    spec: { host, subsets: subsets.map((s) => ({ name: s, labels: { version: s } })), exportTo: [] },
  };
}

const ANY = {
  headers: {},
  withoutHeaders: {},
  queryParams: {},
  sourceLabels: {},
  gateways: [],
  ignoreUriCase: false,
};
const FQDN = (s: string) => `${s}.default.svc.cluster.local`;
const service = (name: string, ports = [9080]) => ({
  hostname: FQDN(name),
  namespace: "default",
  ports: ports.map((number) => ({ number })),
});
const brief = (findings: Finding[]) => findings.map((f) => [f.level, f.code, f.resource]);

test("bookinfo done right: nothing to report", () => {
  const findings = analyze({
    resources: [
      vs(
        "reviews",
        ["reviews"],
        [
          { host: "reviews", subset: "v1" },
          { host: "reviews", subset: "v3" },
        ],
      ),
      dr("reviews", "reviews", ["v1", "v2", "v3"]),
    ],
    services: [service("reviews")],
  });
  assert.deepEqual(findings, []);
});

test("a subset no DestinationRule defines, and a host without any rule: IST0101 with Istio's reference type", () => {
  const findings = analyze({
    resources: [
      vs("reviews", ["reviews"], [{ host: "reviews", subset: "v4" }]),
      dr("reviews", "reviews", ["v1", "v2"]),
      vs("ratings", ["ratings"], [{ host: "ratings", subset: "v1" }]),
    ],
    services: [service("reviews"), service("ratings")],
  });
  assert.deepEqual(
    findings.map((f) => [f.code, f.name, f.resource, f.message]),
    [
      [
        "IST0101",
        "ReferencedResourceNotFound",
        "VirtualService/default/ratings",
        `Referenced host+subset in destinationrule not found: "ratings+v1" (no DestinationRule for ${FQDN("ratings")} is visible in namespace default: requests routed there fail with 503 NC)`,
      ],
      [
        "IST0101",
        "ReferencedResourceNotFound",
        "VirtualService/default/reviews",
        `Referenced host+subset in destinationrule not found: "reviews+v4" (DestinationRule default/reviews defines only v1, v2: requests routed there fail with 503 NC)`,
      ],
    ],
  );
});

test("hosts no service names are reported, as istioctl does offline; a ServiceEntry's hosts count as known", () => {
  const se: ServiceEntry = {
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: meta("external"),
    spec: {
      hosts: ["api.example.com"],
      addresses: [],
      ports: [{ number: 443, name: "https", protocol: "HTTPS" }],
      location: "MESH_EXTERNAL",
      resolution: "DNS",
      endpoints: [],
      exportTo: [],
      subjectAltNames: [],
    },
  };
  const resources = [vs("a", ["a"], [{ host: "nowhere" }, { host: "api.example.com" }]), dr("ghost", "ghost", []), se];
  const findings = analyze({ resources, services: [service("a")] });
  assert.deepEqual(brief(findings), [
    ["Warning", "IST0174", "DestinationRule/default/ghost"],
    ["Error", "IST0101", "VirtualService/default/a"],
  ]);
  assert.match(findings[1]!.message, /^Referenced host not found: "nowhere"/);
  assert.equal(
    findings[0]!.message,
    "The host ghost defined in the DestinationRule does not match any services in the mesh.",
  );
});

test("two DestinationRules for one host are not a conflict (they merge); two VirtualServices are, both flagged", () => {
  const findings = analyze({
    resources: [
      vs("first", ["reviews"], [{ host: "reviews" }]),
      vs("second", ["reviews.default.svc.cluster.local"], [{ host: "reviews" }]),
      dr("one", "reviews", ["v1"]),
      dr("two", "reviews.default.svc.cluster.local", ["v2"]),
    ],
    services: [service("reviews")],
  });
  assert.deepEqual(brief(findings), [
    ["Error", "IST0109", "VirtualService/default/first"],
    ["Error", "IST0109", "VirtualService/default/second"],
  ]);
  assert.match(
    findings[0]!.message,
    /^The VirtualServices default\/first,default\/second associated with mesh gateway/,
  );
});

test("delegation: a missing delegate is reported on the root; a delegate's subsets are checked as merged", () => {
  const root = vs("root", ["reviews"], []);
  root.spec.http = [
    { match: [{ ...ANY, uri: { prefix: "/reviews" } }], delegate: { name: "reviews-routes" }, mirrors: [] },
    { match: [{ ...ANY, uri: { prefix: "/gone" } }], delegate: { name: "gone" }, mirrors: [] },
  ];
  const delegate = vs("reviews-routes", [], [{ host: "reviews", subset: "v9" }]);
  const findings = analyze({
    resources: [root, delegate, dr("reviews", "reviews", ["v1"])],
    services: [service("reviews")],
  });
  assert.deepEqual(
    findings.map((f) => [f.code, f.resource, f.message]),
    [
      [
        "IST0101",
        "VirtualService/default/root",
        `Referenced host+subset in destinationrule not found: "reviews+v9" (DestinationRule default/reviews defines only v1: requests routed there fail with 503 NC)`,
      ],
      [
        "IST0101",
        "VirtualService/default/root",
        "VirtualService default/root http[1]: delegate VirtualService default/gone not found (or it has hosts); route left out: requests it would have matched fall through to the routes after it",
      ],
    ],
  );
});

test("a delegate no root names is checked on its own", () => {
  const findings = analyze({ resources: [vs("orphan", [], [{ host: "nowhere" }])], services: [] });
  assert.deepEqual(brief(findings), [["Error", "IST0101", "VirtualService/default/orphan"]]);
});

test("extra findings (translation problems, kinds not enforced yet) are reported with the analyzers'", () => {
  const extra: Finding = {
    level: "Warning",
    code: "IST0133",
    name: "SchemaWarning",
    resource: "AuthorizationPolicy/default/deny-all",
    message: "stored, not enforced yet",
  };
  assert.deepEqual(analyze({ resources: [], extraFindings: [extra] }), [extra]);
});

const yaml = (...lines: string[]) => lines.join("\n") + "\n";

test("findings name the file and the line of the field at fault", () => {
  const { findings } = analyzeFiles([
    {
      name: "vs.yaml",
      content: yaml(
        "apiVersion: networking.istio.io/v1",
        "kind: VirtualService",
        "metadata:",
        "  name: reviews",
        "spec:",
        "  hosts: [reviews]",
        "  gateways: [nowhere-gateway]",
        "  http:",
        "  - route:",
        "    - destination:",
        "        host: reviews",
        "        subset: v2",
      ),
    },
    {
      name: "svc.yaml",
      content: yaml("apiVersion: v1", "kind: Service", "metadata: {name: reviews}", "spec: {ports: [{port: 9080}]}"),
    },
  ]);
  assert.deepEqual(
    findings.map((f) => [f.code, f.file, f.line, f.message.slice(0, 41)]),
    [
      ["IST0101", "vs.yaml", 7, 'Referenced gateway not found: "nowhere-ga'],
      ["IST0101", "vs.yaml", 12, "Referenced host+subset in destinationrule"],
    ],
  );
});

test("one bad document is a finding (IST0106) and the others are still analyzed; load warnings are IST0133", () => {
  const { findings, notices } = analyzeFiles([
    {
      name: "mixed.yaml",
      content: yaml(
        "apiVersion: networking.istio.io/v1",
        "kind: DestinationRule",
        "metadata: {name: reviews}",
        "spec:",
        "  host: reviews",
        "  subsets:",
        "  - name: v1",
        "    labels: {version: v1}",
        "    subsett: oops",
        "---",
        "apiVersion: networking.istio.io/v1",
        "kind: VirtualService",
        "metadata: {name: broken}",
        "spec:",
        "  hosts: [reviews]",
        "  http:",
        "  - route:",
        "    - destination: {host: reviews}",
        "      weight: -5",
        "---",
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: reviews-v1}",
        "spec: {}",
        "---",
        "apiVersion: v1",
        "kind: ConfigMap",
        "data: {unnamed: true}",
      ),
    },
  ]);
  assert.deepEqual(
    findings.map((f) => [f.level, f.code, f.name, f.resource, f.line]),
    [
      ["Warning", "IST0174", "UnknownDestinationRuleHost", "DestinationRule/default/reviews", 5],
      ["Warning", "IST0133", "SchemaWarning", "DestinationRule/default/reviews", 9],
      ["Error", "IST0106", "SchemaValidationError", "VirtualService/default/broken", 19],
    ],
  );
  assert.deepEqual(notices, [
    "mixed.yaml:21: Deployment default/reviews-v1 is a Kubernetes object, not an Istio resource: not analyzed",
    "mixed.yaml:26: ConfigMap default/(no name) is a Kubernetes object, not an Istio resource: not analyzed",
  ]);
});

test("IST0109 honours exportTo: VirtualServices seen from no common namespace do not conflict", () => {
  const a = vs("a", [FQDN("reviews")], [{ host: FQDN("reviews") }]);
  const b = vs("b", [FQDN("reviews")], [{ host: FQDN("reviews") }]);
  a.metadata.namespace = "team-a";
  b.metadata.namespace = "team-b";
  a.spec.exportTo = ["."];
  b.spec.exportTo = ["team-b", "team-c"];
  const services = [service("reviews")];
  assert.deepEqual(analyze({ resources: [a, b], services }), []);
  b.spec.exportTo = ["team-a"];
  assert.deepEqual(brief(analyze({ resources: [a, b], services })), [
    ["Error", "IST0109", "VirtualService/team-a/a"],
    ["Error", "IST0109", "VirtualService/team-b/b"],
  ]);
  b.spec.exportTo = ["*"];
  assert.equal(analyze({ resources: [a, b], services }).length, 2, "exported everywhere: seen in team-a too");
  b.spec.gateways = ["istio-system/edge"];
  assert.deepEqual(
    analyze({ resources: [a, b], services }).map((f) => f.code),
    ["IST0101"],
    "bound to a gateway only (which is missing): no mesh conflict",
  );
});

test("a Kubernetes Service's exportTo annotation limits where its host is known", () => {
  const files = (exportTo: string) => [
    {
      name: "svc.yaml",
      content: yaml(
        "apiVersion: v1",
        "kind: Service",
        "metadata:",
        "  name: reviews",
        "  namespace: shop",
        `  annotations: {networking.istio.io/exportTo: "${exportTo}"}`,
        "spec: {ports: [{port: 9080}]}",
        "---",
        "apiVersion: networking.istio.io/v1",
        "kind: VirtualService",
        "metadata: {name: caller, namespace: web}",
        "spec:",
        "  hosts: [caller]",
        "  http:",
        "  - route:",
        "    - destination: {host: reviews.shop.svc.cluster.local}",
      ),
    },
  ];
  assert.deepEqual(
    analyzeFiles(files(".")).findings.map((f) => [f.code, f.line]),
    [["IST0101", 16]],
  );
  assert.deepEqual(analyzeFiles(files("web, shop")).findings, []);
});

test("IST0109 and wildcards: a namespace's own VirtualService under another's exported wildcard conflicts", () => {
  const se = (hosts: string[]) => ({ hostname: hosts[0]!, namespace: "default", ports: [{ number: 80 }] });
  const services = [se(["reviews.example.com"])];
  const wildcard = vs("wildcard", ["*.example.com"], [{ host: "reviews.example.com" }]);
  const specific = vs("specific", ["reviews.example.com"], [{ host: "reviews.example.com" }]);
  assert.deepEqual(analyze({ resources: [wildcard, specific], services }), [], "both everywhere: the specific wins");
  specific.metadata.namespace = "team-a";
  specific.spec.exportTo = ["."];
  assert.deepEqual(brief(analyze({ resources: [wildcard, specific], services })), [
    ["Error", "IST0109", "VirtualService/default/wildcard"],
    ["Error", "IST0109", "VirtualService/team-a/specific"],
  ]);
});
