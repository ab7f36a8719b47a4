// Issue 10, "Nothing silent": every translation problem and every resource stored without being enforced reaches
// the user — apply's warnings (and --dry-run's), analyze (live and --offline), proxy-status (a count per proxy, the
// list for one proxy) and `get -o yaml` (the resource's status.validationMessages, as Istio writes them). The real
// control plane in-process, the real CLI through main(), a proxy connected over ADS.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { adsClient, openSotw, wireNode, type SotwClient } from "../src/control/xds/testing.ts";
import type * as grpc from "@grpc/grpc-js";
import { runCli } from "./support/cli-main.ts";

const RATINGS = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ratings }
spec:
  hosts: [ratings.default.svc.cluster.local]
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 10.0.0.7 }]
`;

const DENY_ALL = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-all }
spec: {}
`;

// A subset no DestinationRule defines, and a retry condition Istio accepts that the proxy does not carry out.
const RATINGS_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - route: [{ destination: { host: ratings, subset: v9 } }]
    retries: { attempts: 2, retryOn: "5xx,http3-post-connect-failure" }
`;

const TLS_RULE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings-tls }
spec:
  host: ratings
  trafficPolicy:
    tls: { mode: ISTIO_MUTUAL }
    portLevelSettings:
    - port: { number: 9080 }
      tls: { mode: DISABLE }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy: { tls: { mode: SIMPLE } }
`;

describe("nothing silent: apply, analyze, proxy-status and get say what is not carried out", () => {
  let dir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let control: string;
  let client: grpc.Client | undefined;
  let stream: SotwClient | undefined;
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-silent-"));
    store = await EmbeddedStore.open();
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 10, log: () => {} });
    await cp.start();
    control = `http://127.0.0.1:${cp.apiPort}`;
  });
  after(async () => {
    stream?.close();
    client?.close();
    await cp.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a deny-all AuthorizationPolicy: apply warns it is stored, not enforced; analyze finds it, live and offline", async () => {
    const path = file("deny-all.yaml", DENY_ALL);
    const applied = await runCli(control, "apply", "-f", path);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, "authorizationpolicy/deny-all (default) created\n");
    assert.match(
      applied.stderr,
      /^Warning: AuthorizationPolicy default\/deny-all: stored, not enforced yet: no proxy checks authorization yet, so traffic this policy would deny or restrict still flows; the security issue \(#12\) enforces AuthorizationPolicy \(TRL0001 NotEnforced; selects a sidecar in namespace default\)\n$/,
    );
    const live = await runCli(control, "analyze");
    assert.match(
      live.stdout,
      /^Warning \[TRL0001\] \(AuthorizationPolicy default\/deny-all[^)]*\) spec: stored, not enforced yet: /m,
    );
    assert.doesNotMatch(live.stdout, /No problems found/);
    const offline = await runCli(control, "analyze", "--offline", "-f", path);
    assert.match(
      offline.stdout,
      /^Warning \[TRL0001\] \(AuthorizationPolicy default\/deny-all[^)]*\) spec: stored, not enforced yet: /m,
    );
    assert.equal(offline.code, 0);
  });

  test("DestinationRule tls: each setting that asks for TLS is reported with its field path; DISABLE is not", async () => {
    const path = file("tls.yaml", RATINGS + "---\n" + TLS_RULE);
    const applied = await runCli(control, "apply", "-f", path);
    assert.equal(applied.code, 0, applied.stderr);
    const warnings = applied.stderr.split("\n").filter((l) => l.startsWith("Warning: DestinationRule"));
    assert.deepEqual(
      warnings.map((l) =>
        /DestinationRule default\/ratings-tls (\S+): stored, not enforced yet: tls mode (\w+):/.exec(l)?.slice(1),
      ),
      [
        ["spec.trafficPolicy.tls", "ISTIO_MUTUAL"],
        ["spec.subsets[0].trafficPolicy.tls", "SIMPLE"],
      ],
      applied.stderr,
    );
    const offline = await runCli(control, "analyze", "--offline", "-f", path);
    assert.match(
      offline.stdout,
      /\(DestinationRule default\/ratings-tls[^)]*\) spec\.subsets\[0\]\.trafficPolicy\.tls: stored, not enforced yet: tls mode SIMPLE/,
    );
    await runCli(control, "delete", "destinationrule", "ratings-tls");
  });

  test("with no proxy connected, apply --dry-run and apply warn of translation problems for a sidecar per namespace", async () => {
    const path = file("ratings-vs.yaml", RATINGS_VS);
    const dry = await runCli(control, "apply", "--dry-run", "-f", path);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout, "virtualservice/ratings (default) created (dry run)\n");
    assert.match(
      dry.stderr,
      /^Warning: VirtualService default\/ratings http\[0\]: subset v9 of ratings\.default\.svc\.cluster\.local is not defined by any DestinationRule \(IST0101 ReferencedResourceNotFound; for a sidecar in namespace default\)$/m,
    );
    assert.match(
      dry.stderr,
      /^Warning: VirtualService default\/ratings http\[0\]: retries\.retryOn: condition "http3-post-connect-failure" is not supported by the proxy; ignored \(TRL0002 NotTranslated; for a sidecar in namespace default\)$/m,
    );
    // Only the applied resource's problems: nothing about the AuthorizationPolicy stored before.
    assert.doesNotMatch(dry.stderr, /deny-all/);
    assert.equal(await store.get({ kind: "VirtualService", namespace: "default", name: "ratings" }), undefined);
    // analyze -f against the running mesh translates the mesh with the file in, as apply would store it.
    const withFile = await runCli(control, "analyze", "-f", path);
    assert.match(
      withFile.stdout,
      /^Warning \[TRL0002\] \(VirtualService default\/ratings[^)]*\) spec\.http\[0\]\.retries\.retryOn: condition "http3-post-connect-failure"/m,
    );
    const applied = await runCli(control, "apply", "-f", path);
    assert.equal(applied.stderr, dry.stderr);
  });

  test("live analyze gets translation problems; GET /api/v1/problems lists them with the proxies they were found for", async () => {
    const live = await runCli(control, "analyze");
    assert.equal(live.code, 1, live.stdout);
    assert.match(
      live.stdout,
      /^Warning \[TRL0002\] \(VirtualService default\/ratings[^)]*\) spec\.http\[0\]\.retries\.retryOn: condition "http3-post-connect-failure" is not supported by the proxy; ignored \(for a sidecar in namespace default\)$/m,
    );
    // The subset is explained once: by analyze's own IST0101 check, not again by translation.
    assert.equal(live.stdout.match(/IST0101.*(subset v9|ratings\+v9)/g)?.length, 1, live.stdout);
    const res = await fetch(`${control}/api/v1/problems`);
    const body = (await res.json()) as {
      problems: { code: string; path?: string; proxies: string[] }[];
      proxies: unknown[];
    };
    const retry = body.problems.find((p) => p.path === "spec.http[0].retries.retryOn");
    assert.deepEqual(retry?.proxies, ["namespace/default"]);
    assert.deepEqual(body.proxies, [
      {
        id: "namespace/default",
        representative: true,
        problems: body.problems.filter((p) => p.proxies.includes("namespace/default")).length,
      },
    ]);
  });

  test("a connected proxy: proxy-status counts its problems, proxy-status NAME lists them, apply names it", async () => {
    client = adsClient(`127.0.0.1:${cp.xdsPort}`);
    stream = openSotw(client);
    stream.send({
      node: wireNode("productpage-1", { NAMESPACE: "default", LABELS: { app: "productpage" } }),
      type_url: TYPE_URL.cluster,
      resource_names: [],
    });
    await stream.next();
    const status = await runCli(control, "proxy-status");
    assert.match(status.stdout, /^NAME\s+CDS\s+LDS\s+EDS\s+RDS\s+VERSION\s+PROBLEMS\nproductpage-1\s.*\s(\d+)\n/);
    const count = Number(/productpage-1\s.*\s(\d+)\n/.exec(status.stdout)![1]);
    const one = await runCli(control, "proxy-status", "productpage-1");
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`productpage-1: ${count} problems:\\n`));
    assert.match(
      one.stdout,
      /^ {2}IST0101 VirtualService default\/ratings spec\.http\[0\]: subset v9 of ratings\.default\.svc\.cluster\.local is not defined by any DestinationRule$/m,
    );
    assert.match(
      one.stdout,
      /^ {2}TRL0002 VirtualService default\/ratings spec\.http\[0\]\.retries\.retryOn: condition /m,
    );
    // The deny-all policy has no selector: it would act on every workload of its namespace.
    assert.match(one.stdout, /^ {2}TRL0001 AuthorizationPolicy default\/deny-all spec: stored, not enforced yet: /m);
    const missing = await runCli(control, "proxy-status", "nobody");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /proxy nobody: not connected/);
    const again = await runCli(control, "apply", "-f", join(dir, "ratings-vs.yaml"));
    assert.match(
      again.stderr,
      /is not defined by any DestinationRule \(IST0101 ReferencedResourceNotFound; for proxy productpage-1\)$/m,
    );
    const policy = await runCli(control, "apply", "-f", join(dir, "deny-all.yaml"));
    assert.match(policy.stderr, /\(TRL0001 NotEnforced; selects proxy productpage-1\)$/m);
  });

  test("proxy-status -o json|yaml: every proxy's full status, with its problems; PROXY -o yaml: that one", async () => {
    const json = await runCli(control, "proxy-status", "-o", "json");
    assert.equal(json.code, 0, json.stderr);
    const all = JSON.parse(json.stdout) as {
      nodeId: string;
      sync: Record<string, string>;
      types: Record<string, { sentVersion?: string }>;
      problems: { code: string; resource?: { kind: string; name: string }; path?: string; message: string }[];
    }[];
    const row = all.find((p) => p.nodeId === "productpage-1")!;
    assert.deepEqual(Object.keys(row.sync), ["CDS", "LDS", "EDS", "RDS"]);
    assert.ok(row.types[TYPE_URL.cluster]?.sentVersion !== undefined);
    assert.ok(
      row.problems.some((p) => p.code === "IST0101" && p.resource?.name === "ratings" && p.path === "spec.http[0]"),
      json.stdout,
    );
    const yaml = await runCli(control, "proxy-status", "productpage-1", "-o", "yaml");
    assert.equal(yaml.code, 0, yaml.stderr);
    const one = parseYaml(yaml.stdout) as typeof row;
    assert.equal(one.nodeId, "productpage-1");
    assert.deepEqual(one.problems, row.problems);
    const bad = await runCli(control, "proxy-status", "-o", "table");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /argument 'table' is invalid\. Allowed choices are json, yaml/);
  });

  test("a ServiceEntry's translation problems are in its status (get serviceentry -o yaml), at the port", async () => {
    const path = file(
      "dns.yaml",
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: dns }
spec:
  hosts: [dns.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 53, name: udp-dns, protocol: UDP }]
  resolution: DNS
`,
    );
    const applied = await runCli(control, "apply", "-f", path);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(
      applied.stderr,
      /^Warning: ServiceEntry default\/dns host dns\.example\.com: UDP port 53 is not supported; left out \(TRL0002 NotTranslated; /m,
    );
    let messages: Record<string, unknown>[] | undefined;
    for (let i = 0; i < 100 && messages === undefined; i++) {
      const got = await runCli(control, "get", "serviceentry", "dns", "-o", "yaml");
      messages = (parseYaml(got.stdout) as { status?: { validationMessages: Record<string, unknown>[] } }).status
        ?.validationMessages;
      if (messages === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(messages, [
      {
        type: { code: "TRL0002", name: "NotTranslated" },
        level: "WARNING",
        description:
          "spec.ports[1]: host dns.example.com: UDP port 53 is not supported; left out (for proxy productpage-1)",
      },
    ]);
  });

  test("get -o yaml shows the resource's status.validationMessages as Istio writes them; a fix clears them", async () => {
    const got = await runCli(control, "get", "virtualservice", "ratings", "-o", "yaml");
    assert.equal(got.code, 0, got.stderr);
    const vs = parseYaml(got.stdout) as { status?: { validationMessages: Record<string, unknown>[] } };
    assert.deepEqual(vs.status?.validationMessages, [
      {
        type: { code: "IST0101", name: "ReferencedResourceNotFound" },
        level: "ERROR",
        description:
          "spec.http[0]: subset v9 of ratings.default.svc.cluster.local is not defined by any DestinationRule (for proxy productpage-1)",
        documentationUrl: "https://istio.io/latest/docs/reference/config/analysis/ist0101/",
      },
      {
        type: { code: "TRL0002", name: "NotTranslated" },
        level: "WARNING",
        description:
          'spec.http[0].retries.retryOn: condition "http3-post-connect-failure" is not supported by the proxy; ignored (for proxy productpage-1)',
      },
    ]);
    // The subset defined and the retry condition dropped: no status left.
    const fixed = file(
      "fixed.yaml",
      RATINGS_VS.replace(', retryOn: "5xx,http3-post-connect-failure"', ', retryOn: "5xx"') +
        `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings }
spec:
  host: ratings
  subsets: [{ name: v9, labels: { version: v9 } }]
`,
    );
    const applied = await runCli(control, "apply", "-f", fixed);
    assert.equal(applied.stderr, "");
    // The store's watch rebuilds the world on its own turn: ask until it has.
    let status: unknown = "not yet";
    for (let i = 0; i < 100 && status !== undefined; i++) {
      const now = await runCli(control, "get", "virtualservice", "ratings", "-o", "yaml");
      status = (parseYaml(now.stdout) as { status?: unknown }).status;
      if (status !== undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(status, undefined);
  });
});
