import { test } from "node:test";
import assert from "node:assert/strict";
import type { DestinationRule, HTTPRoute, ServiceEntry, VirtualService } from "../../api/resources/types.ts";
import { analyze } from "./analyze.ts";

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

const FQDN = (s: string) => `${s}.default.svc.cluster.local`;

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
    services: [FQDN("reviews")],
  });
  assert.deepEqual(findings, []);
});

test("a subset no DestinationRule defines, and a host without any rule, are explained", () => {
  const findings = analyze({
    resources: [
      vs("reviews", ["reviews"], [{ host: "reviews", subset: "v4" }]),
      dr("reviews", "reviews", ["v1", "v2"]),
      vs("ratings", ["ratings"], [{ host: "ratings", subset: "v1" }]),
    ],
  });
  assert.deepEqual(
    findings.map((f) => [f.code, f.resource, f.message]),
    [
      [
        "IST0101",
        "VirtualService/default/reviews",
        `subset v4 of ${FQDN("reviews")} is routed to, but DestinationRule/default/reviews defines only v1, v2: requests routed there fail with 503 (NC)`,
      ],
      [
        "IST0101",
        "VirtualService/default/ratings",
        `subset v1 of ${FQDN("ratings")} is routed to, but no DestinationRule for ${FQDN("ratings")} defines subsets: requests routed there fail with 503 (NC)`,
      ],
    ],
  );
});

test("unknown hosts are reported only when the services are known; ServiceEntry hosts count as known", () => {
  const se: ServiceEntry = {
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: meta("external"),
    spec: {
      hosts: ["api.example.com"],
      addresses: [],
      ports: [],
      location: "MESH_EXTERNAL",
      resolution: "DNS",
      endpoints: [],
      exportTo: [],
      subjectAltNames: [],
    },
  };
  const resources = [vs("a", ["a"], [{ host: "nowhere" }, { host: "api.example.com" }]), dr("ghost", "ghost", []), se];
  assert.deepEqual(analyze({ resources }), [], "offline: nothing is known about services");
  const online = analyze({ resources, services: [FQDN("a")] });
  assert.deepEqual(
    online.map((f) => [f.severity, f.code, f.resource]),
    [
      ["Warning", "IST0101", "DestinationRule/default/ghost"],
      ["Error", "IST0101", "VirtualService/default/a"],
    ],
  );
  assert.match(online[1]!.message, /nowhere \(nowhere\.default\.svc\.cluster\.local\) matches no service/);
});

test("two VirtualServices for one host and two DestinationRules for one host", () => {
  const findings = analyze({
    resources: [
      vs("first", ["reviews"], [{ host: "reviews" }]),
      vs("second", ["reviews.default.svc.cluster.local"], [{ host: "reviews" }]),
      dr("one", "reviews", []),
      dr("two", "reviews.default.svc.cluster.local", []),
    ],
  });
  assert.deepEqual(
    findings.map((f) => [f.severity, f.code, f.resource]),
    [
      ["Warning", "IST0171", "DestinationRule/default/two"],
      ["Error", "IST0109", "VirtualService/default/second"],
    ],
  );
});

test("delegation: a missing delegate is reported on the root; a delegate's subsets are checked as merged", () => {
  const root = vs("root", ["reviews"], []);
  root.spec.http = [
    { match: [], delegate: { name: "reviews-routes" }, mirrors: [] },
    { match: [], delegate: { name: "gone" }, mirrors: [] },
  ];
  const delegate = vs("reviews-routes", [], [{ host: "reviews", subset: "v9" }]);
  const findings = analyze({ resources: [root, delegate, dr("reviews", "reviews", ["v1"])] });
  assert.deepEqual(
    findings.map((f) => [f.code, f.resource, f.message]),
    [
      [
        "IST0101",
        "VirtualService/default/root",
        "VirtualService default/root http[1]: delegate VirtualService default/gone not found (or it has hosts); route left out: requests it would have matched fall through to the routes after it",
      ],
      [
        "IST0101",
        "VirtualService/default/root",
        `subset v9 of ${FQDN("reviews")} is routed to, but DestinationRule/default/reviews defines only v1: requests routed there fail with 503 (NC)`,
      ],
    ],
  );
});
