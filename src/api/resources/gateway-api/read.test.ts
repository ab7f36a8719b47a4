import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type {
  GRPCRouteSpec,
  HTTPRouteSpec,
  KubernetesGatewaySpec,
  ReferenceGrantSpec,
  TCPRouteSpec,
  TLSRouteSpec,
} from "./types.ts";
import type { GatewaySpec } from "../types.ts";
import { assertSpecProblems, loadOne, problemsOf, resource, specOf } from "../testing.ts";
import { loadResources } from "../load.ts";
import { resourceKey, toIstioObject } from "../serialize.ts";
import { validateResources } from "../load.ts";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const GATEWAY_YAML = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: All}}
`;

describe("Gateway API: kinds by group", () => {
  test("Istio's Gateway and the Gateway API's Gateway of one name are two resources", () => {
    const { resources } = loadResources(GATEWAY_YAML, "both.yaml");
    assert.deepEqual(
      resources.map((r) => resourceKey(r)),
      ["Gateway/default/edge", "KubernetesGateway/default/edge"],
    );
    assert.deepEqual((resources[0]!.spec as GatewaySpec).selector, { istio: "ingressgateway" });
    assert.equal((resources[1]!.spec as KubernetesGatewaySpec).gatewayClassName, "istio");
  });

  test("the stored form (kind KubernetesGateway) reads back as the same resource", () => {
    const { resources } = loadResources(GATEWAY_YAML, "both.yaml");
    const stored = toIstioObject(resources[1]!);
    assert.equal(stored.kind, "KubernetesGateway");
    const again = validateResources([stored], "store");
    assert.deepEqual(again.resources[0], resources[1]);
  });

  test("a wrong version of the Gateway API's group names the Gateway API's versions", () => {
    const problems = problemsOf(
      `{"apiVersion": "gateway.networking.k8s.io/v1alpha9", "kind": "Gateway", "metadata": {"name": "g"},
        "spec": {"gatewayClassName": "istio", "listeners": [{"name": "a", "port": 80, "protocol": "HTTP"}]}}`,
    );
    assert.deepEqual(problems, [
      [
        0,
        "apiVersion",
        'expected one of gateway.networking.k8s.io/v1, gateway.networking.k8s.io/v1beta1 for a Gateway, got "gateway.networking.k8s.io/v1alpha9"',
      ],
    ]);
  });

  test("UDPRoute is refused by name; TLSRoute and TCPRoute are read in v1alpha2, the version Istio serves", () => {
    const problems = problemsOf(
      JSON.stringify({ apiVersion: "gateway.networking.k8s.io/v1alpha2", kind: "UDPRoute", metadata: { name: "r" } }),
    );
    assert.deepEqual(
      problems.map(([, path, message]) => [path, message]),
      [["kind", "a UDPRoute is not converted by Trellis: its gateways carry no UDP"]],
    );
    const v1 = problemsOf(
      JSON.stringify({ apiVersion: "gateway.networking.k8s.io/v1", kind: "TCPRoute", metadata: { name: "r" } }),
    );
    assert.deepEqual(v1[0], [
      0,
      "apiVersion",
      'expected one of gateway.networking.k8s.io/v1alpha2 for a TCPRoute, got "gateway.networking.k8s.io/v1"',
    ]);
  });
});

describe("Gateway API: round trip", () => {
  test("every resource of the conversion's test files reads back from its stored form unchanged", () => {
    const dir = join(import.meta.dirname, "../../../control/gateway-api/testdata");
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") && !f.endsWith(".golden.yaml"));
    assert.ok(files.length >= 3);
    for (const file of files) {
      const { resources } = loadResources(readFileSync(join(dir, file), "utf8"), file);
      const stored = resources.map((r) => JSON.parse(JSON.stringify(toIstioObject(r))) as unknown);
      assert.deepEqual(validateResources(stored, file).resources, resources, file);
    }
  });
});

describe("Gateway API: GatewayClass", () => {
  test("controllerName is required and a domain-prefixed path; parametersRef refused", () => {
    assert.deepEqual(specOf("GatewayClass", { controllerName: "istio.io/gateway-controller" }), {
      controllerName: "istio.io/gateway-controller",
    });
    assertSpecProblems("GatewayClass", {}, [["spec.controllerName", "required"]]);
    assertSpecProblems("GatewayClass", { controllerName: "no-slash" }, [
      ["spec.controllerName", /^expected a domain-prefixed path/],
    ]);
    assertSpecProblems(
      "GatewayClass",
      { controllerName: "istio.io/gateway-controller", parametersRef: { group: "", kind: "ConfigMap", name: "x" } },
      [["spec.parametersRef", /^parametersRef is not carried out by Trellis's gateways/]],
    );
  });
});

describe("Gateway API: Gateway", () => {
  test("a listener of each protocol, with TLS modes and allowedRoutes", () => {
    const spec = specOf<KubernetesGatewaySpec>("KubernetesGateway", {
      gatewayClassName: "istio",
      listeners: [
        { name: "http", port: 80, protocol: "HTTP", hostname: "*.example.com" },
        {
          name: "https",
          port: 443,
          protocol: "HTTPS",
          hostname: "shop.example.com",
          tls: { certificateRefs: [{ name: "shop-cert" }] },
          allowedRoutes: { namespaces: { from: "Selector", selector: { matchLabels: { team: "shop" } } } },
        },
        { name: "tls", port: 8443, protocol: "TLS", tls: { mode: "Passthrough" } },
        { name: "tcp", port: 9000, protocol: "TCP", allowedRoutes: { kinds: [{ kind: "TCPRoute" }] } },
      ],
    });
    assert.deepEqual(spec.listeners[0], {
      name: "http",
      port: 80,
      protocol: "HTTP",
      hostname: "*.example.com",
      allowedRoutes: { namespaces: { from: "Same" }, kinds: [] },
    });
    assert.deepEqual(spec.listeners[1]!.tls, {
      mode: "Terminate",
      certificateRefs: [{ group: "", kind: "Secret", name: "shop-cert" }],
    });
    assert.deepEqual(spec.listeners[1]!.allowedRoutes.namespaces, {
      from: "Selector",
      selector: { matchLabels: { team: "shop" } },
    });
    assert.deepEqual(spec.listeners[2]!.tls, { mode: "Passthrough", certificateRefs: [] });
    assert.deepEqual(spec.listeners[3]!.allowedRoutes.kinds, [
      { group: "gateway.networking.k8s.io", kind: "TCPRoute" },
    ]);
  });

  test("each bad field is named: class, listeners, protocol, port, hostname, tls, duplicates", () => {
    assertSpecProblems("KubernetesGateway", { listeners: [] }, [
      ["spec.gatewayClassName", "required"],
      ["spec.listeners", "required: at least one listener"],
    ]);
    assertSpecProblems(
      "KubernetesGateway",
      {
        gatewayClassName: "istio",
        listeners: [
          { name: "Bad_Name", port: 0, protocol: "UDP" },
          { name: "h", port: 80, protocol: "HTTP", hostname: "10.0.0.1.", tls: { certificateRefs: [{ name: "c" }] } },
          { name: "s", port: 443, protocol: "HTTPS" },
          { name: "t", port: 9000, protocol: "TCP", hostname: "a.example.com" },
          { name: "h", port: 81, protocol: "HTTP" },
          { name: "p", port: 444, protocol: "HTTPS", tls: { mode: "Passthrough" } },
          { name: "q", port: 445, protocol: "HTTPS", tls: { mode: "Terminate" } },
          { name: "sel", port: 82, protocol: "HTTP", allowedRoutes: { namespaces: { from: "Selector" } } },
        ],
      },
      [
        ["spec.listeners[0].name", /^expected a section name/],
        [
          "spec.listeners[0].protocol",
          'expected one of HTTP, HTTPS, TLS, TCP (UDP listeners are not carried out), got "UDP"',
        ],
        ["spec.listeners[0].port", "expected an integer 1-65535, got 0"],
        ["spec.listeners[1].hostname", /^expected a hostname \(lower case; a leading \*\. allowed; no IP address\)/],
        ["spec.listeners[1].tls", "must not be set for an HTTP listener"],
        ["spec.listeners[2].tls", "required for a HTTPS listener"],
        ["spec.listeners[3].hostname", "must not be set for a TCP listener (hostnames need HTTP or SNI)"],
        ["spec.listeners[5].tls.mode", "expected Terminate on an HTTPS listener (Passthrough is for TLS listeners)"],
        ["spec.listeners[6].tls.certificateRefs", /^required when mode is Terminate/],
        ["spec.listeners[7].allowedRoutes.namespaces.selector", 'required when from is "Selector"'],
        ["spec.listeners[4].name", 'listener name "h" is used by another listener'],
      ],
    );
  });

  test("addresses, infrastructure and TLS options are refused rather than ignored", () => {
    assertSpecProblems(
      "KubernetesGateway",
      {
        gatewayClassName: "istio",
        addresses: [{ value: "10.0.0.1" }],
        listeners: [
          { name: "s", port: 443, protocol: "HTTPS", tls: { certificateRefs: [{ name: "c" }], options: { a: "b" } } },
        ],
      },
      [
        ["spec.addresses", /^addresses is not carried out by Trellis's gateways/],
        ["spec.listeners[0].tls.options", /^options is not carried out/],
      ],
    );
  });
});

describe("Gateway API: GRPCRoute", () => {
  test("method matches, headers, filters and weighted backends", () => {
    const spec = specOf<GRPCRouteSpec>("GRPCRoute", {
      parentRefs: [{ name: "edge" }],
      hostnames: ["grpc.example.com"],
      rules: [
        {
          matches: [
            { method: { service: "helloworld.Greeter", method: "SayHello" }, headers: [{ name: "x-v", value: "2" }] },
            { method: { type: "RegularExpression", service: "helloworld\\..*" } },
          ],
          filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-a", value: "1" }] } }],
          backendRefs: [
            { name: "greeter-v1", port: 50051, weight: 3 },
            { name: "greeter-v2", port: 50051, weight: 1 },
          ],
        },
      ],
    });
    assert.deepEqual(spec.rules[0]!.matches, [
      {
        headers: [{ type: "Exact", name: "x-v", value: "2" }],
        method: { type: "Exact", service: "helloworld.Greeter", method: "SayHello" },
      },
      { headers: [], method: { type: "RegularExpression", service: "helloworld\\..*" } },
    ]);
    assert.equal(spec.rules[0]!.backendRefs.length, 2);
  });

  test("each bad field is named: a method match without service or method, bad names, HTTP-only filters", () => {
    assertSpecProblems(
      "GRPCRoute",
      {
        parentRefs: [{ name: "edge" }],
        rules: [
          {
            matches: [
              { method: { type: "Exact" } },
              { method: { service: "not a service", method: "Say/Hello" } },
              { method: { type: "RegularExpression", method: "(" } },
            ],
            filters: [{ type: "URLRewrite", urlRewrite: { hostname: "x.example.com" } }],
            backendRefs: [{ name: "greeter" }],
          },
        ],
      },
      [
        ["spec.rules[0].matches[0].method", "expected one or both of service and method"],
        ["spec.rules[0].matches[1].method.service", 'expected a gRPC service name, got "not a service"'],
        ["spec.rules[0].matches[1].method.method", 'expected a gRPC method name, got "Say/Hello"'],
        ["spec.rules[0].matches[2].method.method", /^expected a valid regular expression/],
        [
          "spec.rules[0].filters[0].type",
          "expected RequestHeaderModifier, ResponseHeaderModifier or RequestMirror in a GRPCRoute, got URLRewrite",
        ],
        ["spec.rules[0].backendRefs[0].port", "required when the backend is a Service"],
      ],
    );
  });
});

describe("Gateway API: HTTPRoute", () => {
  test("defaults: parentRef group and kind, a match of PathPrefix /, backend kind Service and weight 1", () => {
    const spec = specOf<HTTPRouteSpec>("HTTPRoute", {
      parentRefs: [{ name: "edge", sectionName: "http" }],
      hostnames: ["shop.example.com"],
      rules: [
        {
          backendRefs: [
            { name: "shop-v1", port: 8080, weight: 90 },
            { name: "shop-v2", port: 8080, weight: 10 },
          ],
          timeouts: { request: "10s", backendRequest: "2s" },
        },
      ],
    });
    assert.deepEqual(spec.parentRefs, [
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "edge", sectionName: "http" },
    ]);
    assert.deepEqual(spec.rules[0], {
      matches: [{ path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [] }],
      filters: [],
      backendRefs: [
        { group: "", kind: "Service", name: "shop-v1", port: 8080, weight: 90 },
        { group: "", kind: "Service", name: "shop-v2", port: 8080, weight: 10 },
      ],
      timeouts: { request: 10_000, backendRequest: 2000 },
    });
  });

  test("matches and filters of every kind read into their types", () => {
    const spec = specOf<HTTPRouteSpec>("HTTPRoute", {
      parentRefs: [{ name: "edge" }],
      rules: [
        {
          matches: [
            {
              path: { type: "Exact", value: "/login" },
              headers: [{ name: "x-user", value: "a.*", type: "RegularExpression" }],
              queryParams: [{ name: "v", value: "2" }],
              method: "POST",
            },
          ],
          filters: [
            {
              type: "RequestHeaderModifier",
              requestHeaderModifier: { set: [{ name: "x-a", value: "1" }], remove: ["x-b"] },
            },
            { type: "ResponseHeaderModifier", responseHeaderModifier: { add: [{ name: "x-c", value: "2" }] } },
            {
              type: "URLRewrite",
              urlRewrite: { hostname: "in.example.com", path: { type: "ReplaceFullPath", replaceFullPath: "/auth" } },
            },
            {
              type: "RequestMirror",
              requestMirror: { backendRef: { name: "shadow", port: 80 }, fraction: { numerator: 1, denominator: 4 } },
            },
          ],
          backendRefs: [{ name: "auth", port: 8080 }],
        },
        {
          matches: [{ path: { type: "PathPrefix", value: "/old" } }],
          filters: [
            {
              type: "RequestRedirect",
              requestRedirect: {
                scheme: "https",
                path: { type: "ReplaceFullPath", replaceFullPath: "/new" },
                statusCode: 301,
              },
            },
          ],
        },
      ],
    });
    assert.deepEqual(spec.rules[0]!.matches[0], {
      path: { type: "Exact", value: "/login" },
      headers: [{ type: "RegularExpression", name: "x-user", value: "a.*" }],
      queryParams: [{ type: "Exact", name: "v", value: "2" }],
      method: "POST",
    });
    assert.deepEqual(spec.rules[0]!.filters[3], {
      type: "RequestMirror",
      requestMirror: {
        backendRef: { group: "", kind: "Service", name: "shadow", port: 80 },
        fraction: { numerator: 1, denominator: 4 },
      },
    });
    assert.deepEqual(spec.rules[1]!.filters[0], {
      type: "RequestRedirect",
      requestRedirect: { statusCode: 301, scheme: "https", path: { type: "ReplaceFullPath", replaceFullPath: "/new" } },
    });
  });

  test("each bad field is named, as the CRD's schema and CEL rules would", () => {
    assertSpecProblems(
      "HTTPRoute",
      {
        parentRefs: [{ name: "mesh-svc", kind: "Service", group: "" }, {}],
        hostnames: ["Shop.Example.com"],
        rules: [
          {
            matches: [
              {
                path: { type: "PathPrefix", value: "no-slash" },
                headers: [
                  { name: "x-a", value: "1" },
                  { name: "X-A", value: "2" },
                ],
                method: "FETCH",
              },
              { path: { type: "Exact", value: "/a//b" } },
              { path: { type: "RegularExpression", value: "(" } },
            ],
            filters: [
              { type: "RequestRedirect", requestRedirect: { statusCode: 404 } },
              { type: "URLRewrite", urlRewrite: {} },
              { type: "ExtensionRef", extensionRef: { group: "x", kind: "Y", name: "z" } },
              { type: "RequestHeaderModifier" },
              {
                type: "RequestMirror",
                requestMirror: { backendRef: { name: "m", port: 80 }, percent: 10 },
                urlRewrite: {},
              },
            ],
            backendRefs: [{ name: "svc" }, { name: "w", port: 80, weight: -1 }, { name: "f", port: 80, filters: [] }],
            timeouts: { request: "1s", backendRequest: "2s" },
            retry: { attempts: 3 },
          },
        ],
      },
      [
        ["spec.parentRefs[0].kind", /^a Service parent \(GAMMA mesh routing\) is not carried out by Trellis yet/],
        ["spec.parentRefs[1].name", "required"],
        ["spec.hostnames[0]", /^expected a hostname/],
        ["spec.rules[0].retry", /^retry is not carried out/],
        ["spec.rules[0].matches[0].path.value", 'expected an absolute path starting with "/", got "no-slash"'],
        ["spec.rules[0].matches[0].headers[1].name", '"X-A" is matched by another entry of headers'],
        ["spec.rules[0].matches[0].method", /^expected one of GET, HEAD, POST/],
        ["spec.rules[0].matches[1].path.value", 'must not contain "//", got "/a//b"'],
        ["spec.rules[0].matches[2].path.value", /^expected a valid regular expression/],
        ["spec.rules[0].filters[0].requestRedirect.statusCode", "expected one of 301, 302, 303, 307, 308, got 404"],
        ["spec.rules[0].filters[2].extensionRef", /^extensionRef is not carried out/],
        ["spec.rules[0].filters[2].type", /^ExtensionRef is not carried out/],
        ["spec.rules[0].filters[3].requestHeaderModifier", "required"],
        ["spec.rules[0].filters[4].urlRewrite", "must not be set when type is RequestMirror"],
        ["spec.rules[0].backendRefs[0].port", "required when the backend is a Service"],
        ["spec.rules[0].backendRefs[1].weight", "expected an integer 0-1000000, got -1"],
        ["spec.rules[0].backendRefs[2].filters", /^filters on a backendRef is not carried out/],
        ["spec.rules[0].filters", "RequestRedirect and URLRewrite filters cannot both be set"],
        ["spec.rules[0].backendRefs", "must be empty with a RequestRedirect filter (the redirect is the answer)"],
        ["spec.rules[0].timeouts.backendRequest", "expected backendRequest to be no longer than request"],
      ],
    );
  });

  test("a redirect's ReplacePrefixMatch is refused (Istio's redirect replaces the whole path)", () => {
    assertSpecProblems(
      "HTTPRoute",
      {
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: "/old" } }],
            filters: [
              {
                type: "RequestRedirect",
                requestRedirect: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/new" } },
              },
            ],
          },
        ],
      },
      [["spec.rules[0].filters[0].requestRedirect.path.type", /^ReplacePrefixMatch in a redirect is not carried out/]],
    );
  });

  test("ReplacePrefixMatch needs one PathPrefix match; a duration in another format is refused", () => {
    assertSpecProblems(
      "HTTPRoute",
      {
        parentRefs: [{ name: "edge" }],
        rules: [
          {
            matches: [{ path: { type: "Exact", value: "/a" } }],
            filters: [
              { type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/b" } } },
            ],
            backendRefs: [{ name: "a", port: 80 }],
            timeouts: { request: "1.5s" },
          },
        ],
      },
      [
        [
          "spec.rules[0].matches",
          "expected exactly one match, of path type PathPrefix, with a ReplacePrefixMatch path modifier",
        ],
        [
          "spec.rules[0].timeouts.request",
          'expected a Gateway API duration like "10s", "500ms" or "1m30s", got "1.5s"',
        ],
      ],
    );
  });
});

describe("Gateway API: TLSRoute and TCPRoute", () => {
  test("parentRefs, hostnames (TLSRoute) and rules of weighted backends, with the API's defaults", () => {
    const parentRefs = [{ name: "edge", sectionName: "tls" }];
    assert.deepEqual(
      specOf<TLSRouteSpec>("TLSRoute", {
        parentRefs,
        hostnames: ["shop.example.com", "*.example.org"],
        rules: [
          {
            name: "main",
            backendRefs: [
              { name: "a", port: 443, weight: 90 },
              { name: "b", port: 443 },
            ],
          },
        ],
      }),
      {
        parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "edge", sectionName: "tls" }],
        hostnames: ["shop.example.com", "*.example.org"],
        rules: [
          {
            name: "main",
            backendRefs: [
              { group: "", kind: "Service", name: "a", port: 443, weight: 90 },
              { group: "", kind: "Service", name: "b", port: 443, weight: 1 },
            ],
          },
        ],
      },
    );
    assert.deepEqual(
      specOf<TCPRouteSpec>("TCPRoute", { parentRefs, rules: [{ backendRefs: [{ name: "db", port: 5432 }] }] }).rules,
      [{ backendRefs: [{ group: "", kind: "Service", name: "db", port: 5432, weight: 1 }] }],
    );
  });

  test("each bad field is named: no rules, no backends, a bad hostname, duplicate rule names, matches, filters", () => {
    assertSpecProblems("TCPRoute", { parentRefs: [{ name: "edge" }] }, [["spec.rules", "required: at least one rule"]]);
    assertSpecProblems("TCPRoute", { rules: [{ backendRefs: [] }] }, [
      ["spec.rules[0].backendRefs", "required: at least one backendRef"],
    ]);
    // A TCPRoute has no hostnames (no SNI, no Host header): an unknown field, warned of and not kept.
    const { resource: tcp, warnings } = loadOne(
      resource("TCPRoute", { hostnames: ["a.example.com"], rules: [{ backendRefs: [{ name: "a", port: 1 }] }] }),
    );
    assert.deepEqual(
      warnings.map(([path]) => path),
      ["spec.hostnames"],
    );
    assert.equal("hostnames" in tcp.spec, false);
    assertSpecProblems(
      "TLSRoute",
      {
        hostnames: ["Bad_Host", "*.ok.example.com"],
        rules: [
          { name: "x", backendRefs: [{ name: "a", port: 1 }] },
          { name: "x", backendRefs: [{ name: "a" }] },
          { matches: [{}], backendRefs: [{ name: "a", port: 1, filters: [] }] },
        ],
      },
      [
        ["spec.hostnames[0]", /^expected a hostname/],
        ["spec.rules[1].backendRefs[0].port", "required when the backend is a Service"],
        ["spec.rules[1].name", 'rule name "x" is used by another rule'],
        ["spec.rules[2].matches", /^matches are not part of a TLSRoute or TCPRoute rule/],
        ["spec.rules[2].backendRefs[0].filters", /^filters on a backendRef is not carried out/],
      ],
    );
  });
});

describe("Gateway API: ReferenceGrant", () => {
  test("from and to, a to without a name covering every resource of its kind", () => {
    assert.deepEqual(
      specOf<ReferenceGrantSpec>("ReferenceGrant", {
        from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "infra" }],
        to: [
          { group: "", kind: "Service", name: "app" },
          { group: "", kind: "Secret" },
        ],
      }),
      {
        from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "infra" }],
        to: [
          { group: "", kind: "Service", name: "app" },
          { group: "", kind: "Secret" },
        ],
      },
    );
  });

  test("each bad field is named: empty lists, missing group, kind and namespace, a bad namespace", () => {
    assertSpecProblems("ReferenceGrant", { from: [], to: [] }, [
      ["spec.from", "required: at least one entry"],
      ["spec.to", "required: at least one entry"],
    ]);
    assertSpecProblems(
      "ReferenceGrant",
      { from: [{ kind: "HTTPRoute", namespace: "Bad_NS" }, { group: "x.io" }], to: [{ group: "", name: "" }] },
      [
        ["spec.from[0].group", "required"],
        ["spec.from[0].namespace", /^expected a DNS-1123 label/],
        ["spec.from[1].kind", "required"],
        ["spec.from[1].namespace", "required"],
        ["spec.to[0].kind", "required"],
        ["spec.to[0].name", /^expected an object name/],
      ],
    );
  });
});
