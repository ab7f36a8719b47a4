import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { AuthorizationPolicySpec, PeerAuthenticationSpec, RequestAuthenticationSpec } from "./types.ts";
import { assertSpecProblems, specOf } from "./testing.ts";

describe("PeerAuthentication", () => {
  test("STRICT for a namespace; per-port PERMISSIVE for selected workloads", () => {
    assert.deepEqual(specOf<PeerAuthenticationSpec>("PeerAuthentication", { mtls: { mode: "STRICT" } }), {
      portLevelMtls: {},
      mtls: { mode: "STRICT" },
    });
    const spec = specOf<PeerAuthenticationSpec>("PeerAuthentication", {
      selector: { matchLabels: { app: "finance" } },
      mtls: { mode: "STRICT" },
      portLevelMtls: { 8080: { mode: "DISABLE" } },
    });
    assert.deepEqual(spec.portLevelMtls, { 8080: { mode: "DISABLE" } });
    assert.deepEqual(spec.selector, { matchLabels: { app: "finance" } });
  });

  test("refused: an unknown mode, a port key that is not a port, per-port settings without a selector", () => {
    assertSpecProblems(
      "PeerAuthentication",
      { mtls: { mode: "ON" }, portLevelMtls: { http: { mode: "STRICT" }, 80: { mode: "STRICT" } } },
      [
        ["spec.mtls.mode", 'expected one of UNSET, DISABLE, PERMISSIVE, STRICT, got "ON"'],
        ["spec.portLevelMtls.http", 'expected a port number 1-65535 as the key, got "http"'],
        [
          "spec.portLevelMtls",
          "needs a selector with labels (Istio applies port-level settings only to selected workloads)",
        ],
      ],
    );
  });
});

describe("AuthorizationPolicy", () => {
  test("Istio's example: ALLOW GET from a service account and a namespace, when a JWT claim matches", () => {
    const spec = specOf<AuthorizationPolicySpec>("AuthorizationPolicy", {
      selector: { matchLabels: { app: "httpbin", version: "v1" } },
      action: "ALLOW",
      rules: [
        {
          from: [
            { source: { principals: ["cluster.local/ns/default/sa/sleep"] } },
            { source: { namespaces: ["test"] } },
          ],
          to: [{ operation: { methods: ["GET"], paths: ["/info*"] } }],
          when: [{ key: "request.auth.claims[iss]", values: ["https://accounts.google.com"] }],
        },
      ],
    });
    assert.equal(spec.action, "ALLOW");
    assert.deepEqual(spec.rules[0].from[0].source.principals, ["cluster.local/ns/default/sa/sleep"]);
    assert.deepEqual(spec.rules[0].from[1].source.notNamespaces, []);
    assert.deepEqual(spec.rules[0].to[0].operation.paths, ["/info*"]);
    assert.deepEqual(spec.rules[0].when, [
      { key: "request.auth.claims[iss]", values: ["https://accounts.google.com"], notValues: [] },
    ]);
    assert.deepEqual(
      specOf<AuthorizationPolicySpec>("AuthorizationPolicy", {}),
      { targetRefs: [], rules: [], action: "ALLOW" },
      "deny-all by default",
    );
  });

  test("refused: CUSTOM without provider, empty source, a condition without values, an unknown action", () => {
    assertSpecProblems(
      "AuthorizationPolicy",
      { action: "CUSTOM", rules: [{ from: [{ source: {} }], when: [{ key: "source.ip" }] }] },
      [
        ["spec.rules[0].from[0].source", /^expected at least one of principals, notPrincipals/],
        ["spec.rules[0].when[0]", "expected values or notValues"],
        ["spec.provider", "required when action is CUSTOM"],
      ],
    );
    assertSpecProblems("AuthorizationPolicy", { action: "REJECT" }, [
      ["spec.action", 'expected one of ALLOW, DENY, AUDIT, CUSTOM, got "REJECT"'],
    ]);
  });
});

describe("RequestAuthentication", () => {
  test("Istio's example: a JWT issuer with its JWKS URI, token from a header", () => {
    const spec = specOf<RequestAuthenticationSpec>("RequestAuthentication", {
      selector: { matchLabels: { app: "httpbin" } },
      jwtRules: [
        {
          issuer: "issuer-foo",
          jwksUri: "https://example.com/.well-known/jwks.json",
          audiences: ["bookstore"],
          fromHeaders: [{ name: "x-jwt-assertion", prefix: "Bearer " }],
          outputClaimToHeaders: [{ header: "x-user", claim: "sub" }],
          forwardOriginalToken: true,
          timeout: "5s",
        },
      ],
    });
    assert.deepEqual(spec.jwtRules[0], {
      issuer: "issuer-foo",
      audiences: ["bookstore"],
      fromHeaders: [{ name: "x-jwt-assertion", prefix: "Bearer " }],
      fromParams: [],
      fromCookies: [],
      outputClaimToHeaders: [{ header: "x-user", claim: "sub" }],
      jwksUri: "https://example.com/.well-known/jwks.json",
      forwardOriginalToken: true,
      timeout: 5000,
    });
  });

  test("refused: both jwks and jwksUri, a jwksUri that is not a URL, jwks that is not a key set", () => {
    assertSpecProblems("RequestAuthentication", { jwtRules: [{ jwks: "{}", jwksUri: "example.com/keys" }] }, [
      ["spec.jwtRules[0]", "only one of jwksUri, jwks may be set, got jwksUri and jwks"],
      ["spec.jwtRules[0].jwksUri", 'expected an http:// or https:// URL, got "example.com/keys"'],
      ["spec.jwtRules[0].jwks", "expected a JSON Web Key Set (a JSON object with keys, or one key with kty)"],
    ]);
  });

  test("an issuer, or a jwksUri to find the keys by (Istio's rule); neither is refused", () => {
    const spec = specOf<RequestAuthenticationSpec>("RequestAuthentication", {
      jwtRules: [{ jwksUri: "https://example.com/jwks.json" }],
    });
    assert.equal(spec.jwtRules[0].issuer, "");
    assertSpecProblems("RequestAuthentication", { jwtRules: [{ audiences: ["a"] }, { issuer: "" }] }, [
      ["spec.jwtRules[0].issuer", "required (or give a jwksUri)"],
      ["spec.jwtRules[1].issuer", "must not be empty (or give a jwksUri)"],
    ]);
  });
});
