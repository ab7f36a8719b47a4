import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { SidecarSpec } from "./types.ts";
import { assertSpecProblems, specOf } from "./testing.ts";

describe("Sidecar", () => {
  test("Istio's example: egress to own namespace and istio-system, REGISTRY_ONLY, an ingress port", () => {
    const spec = specOf<SidecarSpec>("Sidecar", {
      workloadSelector: { labels: { app: "ratings" } },
      ingress: [
        {
          port: { number: 9080, protocol: "HTTP", name: "somename" },
          defaultEndpoint: "127.0.0.1:8080",
          captureMode: "NONE",
        },
      ],
      egress: [
        {
          port: { number: 3306, protocol: "MYSQL", name: "egressmysql" },
          bind: "127.0.0.1",
          hosts: ["*/mysql.foo.com"],
        },
        { hosts: ["./*", "istio-system/*"] },
      ],
      outboundTrafficPolicy: { mode: "REGISTRY_ONLY" },
    });
    assert.deepEqual(spec.workloadSelector, { labels: { app: "ratings" } });
    assert.deepEqual(spec.ingress, [
      {
        port: { number: 9080, protocol: "HTTP", name: "somename" },
        captureMode: "NONE",
        defaultEndpoint: "127.0.0.1:8080",
      },
    ]);
    assert.deepEqual(spec.egress, [
      { hosts: ["*/mysql.foo.com"], port: { number: 3306, protocol: "MYSQL", name: "egressmysql" }, bind: "127.0.0.1" },
      { hosts: ["./*", "istio-system/*"] },
    ]);
    assert.deepEqual(spec.outboundTrafficPolicy, { mode: "REGISTRY_ONLY" });
  });

  test("refused: egress hosts without a namespace, two catch-all egress listeners, a bad mode, ingress tls", () => {
    assertSpecProblems(
      "Sidecar",
      {
        egress: [{ hosts: ["reviews"] }, { hosts: [] }, { port: { number: 99999 }, hosts: ["./*"] }],
        outboundTrafficPolicy: { mode: "DENY" },
        ingress: [{ port: { number: 80 }, tls: { mode: "SIMPLE" } }, {}],
      },
      [
        ["spec.ingress[0].tls", "ingress tls (terminating TLS at the sidecar) is not supported"],
        ["spec.ingress[1].port", "required"],
        ["spec.egress[0].hosts[0]", 'expected "namespace/host" (like "./*" or "istio-system/*"), got "reviews"'],
        ["spec.egress[1].hosts", "expected at least one host"],
        ["spec.egress[2].port.number", "expected an integer 1-65535, got 99999"],
        ["spec.outboundTrafficPolicy.mode", 'expected one of REGISTRY_ONLY, ALLOW_ANY, got "DENY"'],
        ["spec.egress", "at most one egress listener may omit its port (the catch-all)"],
      ],
    );
  });
  test("ingress defaultEndpoint: Istio's forms only; one listener per bind address and port", () => {
    const ingress = (defaultEndpoint: string, number = 9080) => ({
      port: { number, protocol: "HTTP", name: `p${number}` },
      defaultEndpoint,
    });
    for (const ok of ["127.0.0.1:8080", "0.0.0.0:8080", "[::1]:8080", "[::]:8080", "unix:///var/run/app.sock"]) {
      assert.equal(specOf<SidecarSpec>("Sidecar", { ingress: [ingress(ok)] }).ingress[0]!.defaultEndpoint, ok);
    }
    for (const bad of ["10.0.0.1:8080", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "localhost:80", "unix://"]) {
      assertSpecProblems("Sidecar", { ingress: [ingress(bad)] }, [
        [
          "spec.ingress[0].defaultEndpoint",
          `expected 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>, got "${bad}"`,
        ],
      ]);
    }
    assertSpecProblems("Sidecar", { ingress: [ingress("127.0.0.1:1"), ingress("127.0.0.1:2")] }, [
      ["spec.ingress[1].port.number", "port 9080 is already used by another ingress"],
    ]);
    const twoBinds = [
      { ...ingress("127.0.0.1:1"), bind: "10.0.0.1" },
      { ...ingress("127.0.0.1:2"), bind: "10.0.0.2" },
    ];
    assert.equal(specOf<SidecarSpec>("Sidecar", { ingress: twoBinds }).ingress.length, 2);
  });
  test("egressProxy: only with ALLOW_ANY, and with a port", () => {
    const policy = (mode: string, egressProxy: unknown) => ({ outboundTrafficPolicy: { mode, egressProxy } });
    assert.deepEqual(
      specOf<SidecarSpec>("Sidecar", policy("ALLOW_ANY", { host: "egress.internal", port: { number: 3128 } }))
        .outboundTrafficPolicy?.egressProxy,
      { host: "egress.internal", port: { number: 3128 } },
    );
    assertSpecProblems("Sidecar", policy("REGISTRY_ONLY", { host: "egress.internal", port: { number: 3128 } }), [
      ["spec.outboundTrafficPolicy.egressProxy", "egressProxy may only be set with mode ALLOW_ANY"],
    ]);
    assertSpecProblems("Sidecar", policy("ALLOW_ANY", { host: "egress.internal" }), [
      ["spec.outboundTrafficPolicy.egressProxy.port", "required: the egress proxy's port"],
    ]);
  });
  test("outboundTrafficPolicy without a mode is REGISTRY_ONLY (Istio's proto default), not the mesh's ALLOW_ANY", () => {
    assert.deepEqual(specOf<SidecarSpec>("Sidecar", { outboundTrafficPolicy: {} }).outboundTrafficPolicy, {
      mode: "REGISTRY_ONLY",
    });
    assertSpecProblems(
      "Sidecar",
      { outboundTrafficPolicy: { egressProxy: { host: "egress.internal", port: { number: 3128 } } } },
      [["spec.outboundTrafficPolicy.egressProxy", "egressProxy may only be set with mode ALLOW_ANY"]],
    );
  });
});
