import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ISTIO_JSON_FORMAT,
  ISTIO_TEXT_FORMAT,
  MeshConfigError,
  defaultMeshConfig,
  readMeshConfig,
} from "./mesh-config.ts";

/** [path, a piece of the message, line?] */
type Expected = [path: string, message: string, line?: number];

function assertIssues(actual: { path: string; message: string; line?: number }[], expected: Expected[]): void {
  assert.equal(
    actual.length,
    expected.length,
    `expected ${expected.length} issue(s), got:\n${actual.map((i) => `${i.path}: ${i.message}`).join("\n")}`,
  );
  expected.forEach(([path, message, line], i) => {
    const got = actual[i]!;
    assert.equal(got.path, path);
    assert.ok(got.message.includes(message), `${path}: "${got.message}" should include "${message}"`);
    if (line !== undefined) assert.equal(got.line, line, `${path}: line`);
  });
}

describe("MeshConfig: reading and validation (Istio's ValidateMeshConfig)", () => {
  test("an empty file is Istio's defaults", () => {
    const read = readMeshConfig("");
    assert.deepEqual(read.errors, []);
    assert.deepEqual(read.config, defaultMeshConfig());
    assert.equal(read.config?.rootNamespace, "istio-system");
    assert.equal(read.config?.trustDomain, "cluster.local");
    assert.equal(read.config?.outboundTrafficPolicy.mode, "ALLOW_ANY");
    assert.deepEqual(read.accessLogs, []);
  });

  test("the mesh ConfigMap key as people write it: every field read, effective ones without notices", () => {
    const read = readMeshConfig(
      [
        "rootNamespace: mesh-root",
        "outboundTrafficPolicy:",
        "  mode: REGISTRY_ONLY",
        "accessLogFile: /dev/stdout",
        "enableTracing: false",
        "localityLbSetting:",
        "  enabled: true",
        "  distribute:",
        "  - from: us-east/*",
        "    to: {'us-east/*': 80, 'eu-west/*': 20}",
        "defaultConfig:",
        "  concurrency: 1",
      ].join("\n"),
    );
    assert.deepEqual(read.errors, []);
    assert.deepEqual(read.warnings, []);
    assert.deepEqual(read.notices, []);
    assert.equal(read.config?.rootNamespace, "mesh-root");
    assert.equal(read.config?.outboundTrafficPolicy.mode, "REGISTRY_ONLY");
    assert.deepEqual(read.config?.localityLbSetting?.distribute, [
      { from: "us-east/*", to: { "us-east/*": 80, "eu-west/*": 20 } },
    ]);
    assert.deepEqual(read.accessLogs, [
      { path: "/dev/stdout", format: { kind: "text", text: ISTIO_TEXT_FORMAT }, source: "accessLogFile" },
    ]);
  });

  test("the meshConfig: wrapper and an IstioOperator are unwrapped; paths say where", () => {
    const wrapped = readMeshConfig("meshConfig:\n  rootNamespace: other\n  trustDomain: 'bad domain'\n");
    assertIssues(wrapped.errors, [["meshConfig.trustDomain", "expected a trust domain", 3]]);
    const operator = readMeshConfig(
      "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  meshConfig:\n    rootNamespace: other\n",
    );
    assert.deepEqual(operator.errors, []);
    assert.equal(operator.config?.rootNamespace, "other");
    const configMap = readMeshConfig(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: |-\n    rootNamespace: cm-root\n",
    );
    assert.deepEqual(configMap.errors, []);
    assert.equal(configMap.config?.rootNamespace, "cm-root");
  });

  const invalid: { name: string; yaml: string; errors: Expected[] }[] = [
    {
      name: "every problem in one pass, each with its line",
      yaml: [
        "rootNamespace: Not_A_Namespace", // 1
        "outboundTrafficPolicy:", // 2
        "  mode: ALLOW_SOME", // 3
        "accessLogEncoding: XML", // 4
        "enableTracing: yes please", // 5
        "defaultConfig:", // 6
        "  drainDuration: 1500ms", // 7
        "  concurrency: -1", // 8
      ].join("\n"),
      errors: [
        ["rootNamespace", "expected a namespace name", 1],
        ["outboundTrafficPolicy.mode", "expected one of ALLOW_ANY, REGISTRY_ONLY", 3],
        ["accessLogEncoding", "expected one of TEXT, JSON", 4],
        ["enableTracing", "expected true or false", 5],
        ["defaultConfig.drainDuration", "expected whole seconds", 7],
        ["defaultConfig.concurrency", "expected an integer >= 0", 8],
      ],
    },
    {
      name: "trust domains",
      yaml: "trustDomain: ''\ntrustDomainAliases: [good.example, 'bad_alias']\n",
      errors: [
        ["trustDomain", "must not be empty", 1],
        ["trustDomainAliases[1]", "expected a trust domain", 2],
      ],
    },
    {
      name: "localityLbSetting as Istio validates it",
      yaml: [
        "localityLbSetting:",
        "  failover:",
        "  - {from: us-east, to: us-east}",
        "  - {from: us-east/zone1, to: '*'}",
      ].join("\n"),
      errors: [
        ["localityLbSetting.failover[0]", "must be different regions", 3],
        ["localityLbSetting.failover[1]", "regions only", 4],
        ["localityLbSetting.failover[1]", "must not contain '*'", 4],
      ],
    },
    {
      name: "distribute: weights, both distribute and failover, overlapping localities",
      yaml: [
        "localityLbSetting:",
        "  distribute:",
        "  - {from: 'us-east/*', to: {'us-east/*': 50, 'eu-west/*': 40}}",
        "  - {from: 'us-east/zone1', to: {'*': 100}}",
        "  failover: [{from: a, to: b}]",
      ].join("\n"),
      errors: [
        ["localityLbSetting", "only one of distribute, failover may be set", 1],
        ["localityLbSetting.distribute", "locality us-east/zone1 overlaps", 2],
        ["localityLbSetting.distribute[0].to", "expected weights summing to 100, got 90", 3],
      ],
    },
    {
      name: "extension providers: names unique and present, services and ports present, one type each",
      yaml: [
        "extensionProviders:", // 1
        "- name: zipkin", // 2
        "  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}", // 3
        "- name: zipkin", // 4
        "  opentelemetry: {port: 4317}", // 5
        "- name: authz", // 6
        "  envoyExtAuthzHttp: {service: 'bad host!', port: 70000, pathPrefix: check, statusOnError: '99'}", // 7
        "- zipkin: {service: z.ns.svc, port: 1}", // 8
        "- name: two", // 9
        "  zipkin: {service: z.ns.svc, port: 1}", // 10
        "  prometheus: {}", // 11
        "- name: otel", // 12
        "  opentelemetry: {service: otel/collector.ns.svc, port: 4317, http: {}, grpc: {}}", // 13
        "- name: sd", // 14
        "  stackdriver: {}", // 15
        "- name: log", // 16
        "  envoyFileAccessLog: {logFormat: {text: x, labels: {a: b}}}", // 17
      ].join("\n"),
      errors: [
        ["extensionProviders[1].name", "is already the name of extensionProviders[0]", 4],
        ["extensionProviders[1].opentelemetry.service", "required", 5],
        ["extensionProviders[2].envoyExtAuthzHttp.service", "expected a service host", 7],
        ["extensionProviders[2].envoyExtAuthzHttp.port", "expected an integer 1-65535", 7],
        ["extensionProviders[2].envoyExtAuthzHttp.pathPrefix", 'must begin with "/"', 7],
        ["extensionProviders[2].envoyExtAuthzHttp.statusOnError", "expected an HTTP status code", 7],
        ["extensionProviders[3].name", "required", 8],
        ["extensionProviders[4]", "only one of", 9],
        ["extensionProviders[5].opentelemetry", "only one of http, grpc", 13],
        ["extensionProviders[6].stackdriver", "not supported by Trellis", 15],
        ["extensionProviders[7].envoyFileAccessLog.path", "required", 17],
        ["extensionProviders[7].envoyFileAccessLog.logFormat", "only one of text, labels", 17],
      ],
    },
    {
      name: "defaultProviders must name a provider of the right type",
      yaml: "extensionProviders:\n- {name: z, zipkin: {service: z.ns.svc, port: 9411}}\ndefaultProviders:\n  accessLogging: [z]\n",
      errors: [
        ["defaultProviders.accessLogging[0]", 'extension provider "z" is zipkin, not a accessLogging provider', 4],
      ],
    },
    {
      name: "a JSON access log format must be a JSON object of strings",
      yaml: "accessLogFile: /dev/stdout\naccessLogEncoding: JSON\naccessLogFormat: '{\"code\": 200}'\n",
      errors: [["accessLogFormat", 'field "code" must be a string', 3]],
    },
    {
      name: "not YAML, and not an object",
      yaml: "rootNamespace: [unclosed\n",
      errors: [["", "not valid YAML"]],
    },
    {
      name: "a list instead of a MeshConfig",
      yaml: "- rootNamespace: x\n",
      errors: [["", "expected an object, got a list"]],
    },
    {
      name: "proxy config: discovery address, zipkin address, stats regexps",
      yaml: [
        "defaultConfig:",
        "  discoveryAddress: istiod.istio-system.svc",
        "  tracing: {zipkin: {address: 'zipkin:99999'}}",
        "  proxyStatsMatcher: {inclusionRegexps: ['(unclosed']}",
      ].join("\n"),
      errors: [
        ["defaultConfig.discoveryAddress", "expected HOST:PORT", 2],
        ["defaultConfig.tracing.zipkin.address", "must be in the range 1..65535", 3],
        ["defaultConfig.proxyStatsMatcher.inclusionRegexps[0]", "not a valid regular expression", 4],
      ],
    },
  ];
  for (const c of invalid) {
    test(`refused: ${c.name}`, () => {
      const read = readMeshConfig(c.yaml);
      assert.equal(read.config, undefined);
      assertIssues(read.errors, c.errors);
      const error = new MeshConfigError("mesh.yaml", read.errors);
      assert.equal(error.code, "TRELLIS_MESHCONFIG_INVALID");
      assert.ok(error.message.startsWith("mesh.yaml: invalid configuration:"));
    });
  }

  test("protocolDetectionTimeout: Istio's default 0s (no timeout), a duration of at least 1ms, read without notices", () => {
    assert.equal(readMeshConfig("").config?.protocolDetectionTimeout, "0s");
    const read = readMeshConfig("protocolDetectionTimeout: 250ms\n");
    assert.deepEqual([read.errors, read.warnings, read.notices], [[], [], []]);
    assert.equal(read.config?.protocolDetectionTimeout, "250ms");
    assert.equal(readMeshConfig("protocolDetectionTimeout: 0s\n").config?.protocolDetectionTimeout, "0s");
    assertIssues(readMeshConfig("protocolDetectionTimeout: -1s\n").errors, [["protocolDetectionTimeout", ""]]);
    assertIssues(readMeshConfig("protocolDetectionTimeout: soon\n").errors, [["protocolDetectionTimeout", ""]]);
  });

  test("unknown fields and Istio-only fields are warnings, named with their line", () => {
    const read = readMeshConfig(
      "rootNamespac: typo\nenablePrometheusMerge: true\ndefaultConfig:\n  binaryPath: /usr/local/bin/envoy\n",
    );
    assert.deepEqual(read.errors, []);
    assertIssues(read.warnings, [
      ["rootNamespac", 'unknown field "rootNamespac" ignored', 1],
      ["enablePrometheusMerge", "does not apply to Trellis", 2],
      ["defaultConfig.binaryPath", "does not apply to Trellis sidecars", 4],
    ]);
  });

  test("fields whose effect comes later are stored and listed as not enforced yet", () => {
    const read = readMeshConfig(
      [
        "trustDomain: example.org", // 1
        "enableTracing: true", // 2
        "defaultConfig:", // 3
        "  drainDuration: 45s", // 4
        "  concurrency: 2", // 5
        "  holdApplicationUntilProxyStarts: true", // 6
        "extensionProviders:", // 7
        "- name: otel", // 8
        "  opentelemetry: {service: otel.observability.svc.cluster.local, port: 4317}", // 9
        "- name: ext-authz", // 10
        "  envoyExtAuthzGrpc: {service: authz.ns.svc.cluster.local, port: 9000}", // 11
        "defaultProviders:", // 12
        "  tracing: [otel]", // 13
      ].join("\n"),
    );
    assert.deepEqual(read.errors, []);
    assert.equal(read.config?.trustDomain, "example.org");
    assert.equal(read.config?.defaultConfig.drainDuration, "45s");
    assert.equal(read.config?.defaultConfig.holdApplicationUntilProxyStarts, true);
    assert.deepEqual(read.config?.extensionProviders[0], {
      name: "otel",
      opentelemetry: { service: "otel.observability.svc.cluster.local", port: 4317 },
    });
    assertIssues(read.notices, [
      ["trustDomain", "stored, not enforced yet", 1],
      ["enableTracing", "stored, not enforced yet", 2],
      ["defaultConfig.drainDuration", "stored, not enforced yet", 4],
      ["defaultConfig.concurrency", "one event loop", 5],
      ["defaultConfig.holdApplicationUntilProxyStarts", "trellis run", 6],
      ["extensionProviders[0]", "do not send spans", 8],
      ["extensionProviders[1]", "CUSTOM", 10],
      ["defaultProviders.tracing[0]", "stored, not enforced yet", 13],
    ]);
  });

  test("access logs: JSON encoding, defaultProviders.accessLogging (built-in envoy and own providers)", () => {
    const json = readMeshConfig("accessLogFile: /tmp/a.log\naccessLogEncoding: JSON\n");
    assert.deepEqual(json.accessLogs, [
      { path: "/tmp/a.log", format: { kind: "json", labels: ISTIO_JSON_FORMAT }, source: "accessLogFile" },
    ]);
    const custom = readMeshConfig("accessLogFile: /tmp/a.log\naccessLogFormat: '%RESPONSE_CODE%'\n");
    assert.deepEqual(custom.accessLogs[0]?.format, { kind: "text", text: "%RESPONSE_CODE%\n" });
    const providers = readMeshConfig(
      [
        "accessLogFile: /tmp/ignored.log",
        "extensionProviders:",
        "- name: json-log",
        "  envoyFileAccessLog: {path: /tmp/b.log, logFormat: {labels: {code: '%RESPONSE_CODE%'}}}",
        "defaultProviders:",
        "  accessLogging: [envoy, json-log]",
      ].join("\n"),
    );
    assert.deepEqual(providers.errors, []);
    assertIssues(providers.warnings, [["accessLogFile", "defaultProviders.accessLogging is set", 1]]);
    assert.deepEqual(providers.accessLogs, [
      {
        path: "/dev/stdout",
        format: { kind: "text", text: ISTIO_TEXT_FORMAT },
        source: "defaultProviders.accessLogging[0]",
      },
      {
        path: "/tmp/b.log",
        format: { kind: "json", labels: { code: "%RESPONSE_CODE%" } },
        source: "extensionProviders[0]",
      },
    ]);
  });

  test("no input throws: hostile and malformed documents are problems, not crashes", () => {
    const hostile = [
      "\u0000",
      "a: &a [*a]\n",
      "---\na: 1\n---\nb: 2\n",
      "meshConfig: 5\n",
      "meshConfig: null\n",
      "kind: IstioOperator\nspec: {meshConfig: [1]}\n",
      "kind: ConfigMap\ndata: {mesh: '[1'}\n",
      "extensionProviders: [5, null, {name: 5, zipkin: 5}, {name: x, envoyFileAccessLog: {logFormat: 5}}]\n",
      "defaultProviders: {accessLogging: 5, tracing: [null]}\nlocalityLbSetting: {distribute: [5], failover: 5}\n",
      "defaultConfig: {proxyStatsMatcher: {inclusionRegexps: 5}, tracing: {zipkin: 5}, proxyMetadata: [1]}\n",
      'accessLogFile: /x\naccessLogEncoding: JSON\naccessLogFormat: "[1]"\n',
      "x".repeat(100_000),
    ];
    for (const text of hostile) {
      const read = readMeshConfig(text);
      assert.ok(read.config !== undefined || read.errors.length > 0, JSON.stringify(text.slice(0, 60)));
    }
    assert.deepEqual(
      readMeshConfig("---\na: 1\n---\nb: 2\n").errors.map((e) => e.message),
      ["a MeshConfig file holds one YAML document (found a second `---` document)"],
    );
  });

  test("defaultProviders naming no provider is a warning", () => {
    const read = readMeshConfig("defaultProviders:\n  metrics: [prometheus, missing]\n");
    assert.deepEqual(read.errors, []);
    assertIssues(read.warnings, [["defaultProviders.metrics[1]", 'no extension provider named "missing"', 2]]);
  });
});
