// VirtualService delegation: Istio's merge rules (which delegate matches narrow a root match, what a delegate
// route inherits) and the problems kept where Istio only logs.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { HTTPRoute, VirtualService } from "../../api/resources/types.ts";
import { loadResources } from "../../api/resources/load.ts";
import { mergeDelegates, mergeHttpRoute } from "./delegation.ts";

/** VirtualServices through the real loader, so they carry the defaults validation fills in. */
function load(yaml: string): VirtualService[] {
  const loaded = loadResources(yaml, "test.yaml");
  return loaded.resources as VirtualService[];
}

function vs(name: string, spec: string, namespace = "default"): string {
  return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
`;
}

function route(yaml: string): HTTPRoute {
  return load(vs("r", `{ hosts: [a], http: [${yaml}] }`))[0]!.spec.http[0]!;
}

const TO_A = "route: [{ destination: { host: a } }]";

describe("merging one delegate route under a root route", () => {
  test("a delegate match must narrow a root match: longer prefix, exact under the prefix, same exact", () => {
    const root = route(`{ match: [{ uri: { prefix: /api } }], delegate: { name: d } }`);
    const narrows = (m: string) => mergeHttpRoute(root, route(`{ match: [${m}], ${TO_A} }`)) !== undefined;
    assert.equal(narrows("{ uri: { prefix: /api/v1 } }"), true);
    assert.equal(narrows("{ uri: { exact: /api/x } }"), true);
    assert.equal(narrows("{ uri: { prefix: /ap } }"), false);
    assert.equal(narrows("{ uri: { exact: /other } }"), false);
    assert.equal(narrows('{ uri: { regex: "/api/.*" } }'), false);
    assert.equal(narrows("{ headers: { x: { exact: y } } }"), true);
    const exact = route(`{ match: [{ uri: { exact: /a } }], delegate: { name: d } }`);
    assert.ok(mergeHttpRoute(exact, route(`{ match: [{ uri: { exact: /a } }], ${TO_A} }`)));
    assert.equal(mergeHttpRoute(exact, route(`{ match: [{ uri: { prefix: /a } }], ${TO_A} }`)), undefined);
    const port = route(`{ match: [{ port: 80 }], delegate: { name: d } }`);
    assert.equal(mergeHttpRoute(port, route(`{ match: [{ port: 81 }], ${TO_A} }`)), undefined);
    const caseless = route(`{ match: [{ uri: { prefix: /a }, ignoreUriCase: true }], delegate: { name: d } }`);
    assert.equal(mergeHttpRoute(caseless, route(`{ match: [{ uri: { prefix: /a/b } }], ${TO_A} }`)), undefined);
  });

  test("merged matches: the delegate's fields win, the root fills the rest; header and query maps join", () => {
    const root = route(
      `{ name: root, match: [{ name: m, uri: { prefix: /api }, method: { exact: GET }, headers: { a: { exact: "1" } } }],
         delegate: { name: d } }`,
    );
    const merged = mergeHttpRoute(
      root,
      route(`{ name: leaf, match: [{ name: n, uri: { prefix: /api/v2 }, headers: { b: { prefix: x } } }], ${TO_A} }`),
    )!;
    assert.equal(merged.name, "root-leaf");
    assert.equal(merged.match.length, 1);
    const m = merged.match[0]!;
    assert.equal(m.name, "m-n");
    assert.deepEqual(m.uri, { prefix: "/api/v2" });
    assert.deepEqual(m.method, { exact: "GET" });
    assert.deepEqual(m.headers, { a: { exact: "1" }, b: { prefix: "x" } });
    assert.equal(merged.delegate, undefined);
  });

  test("a delegate match merges with every root match it narrows; no delegate match takes the root's", () => {
    const root = route(`{ match: [{ uri: { prefix: /a } }, { uri: { prefix: /b } }], delegate: { name: d } }`);
    const any = mergeHttpRoute(root, route(`{ match: [{ headers: { h: { exact: v } } }], ${TO_A} }`))!;
    assert.deepEqual(
      any.match.map((m) => m.uri),
      [{ prefix: "/a" }, { prefix: "/b" }],
    );
    const none = mergeHttpRoute(root, route(`{ ${TO_A} }`))!;
    assert.deepEqual(none.match, root.match);
  });

  test("what the delegate leaves unset comes from the root: timeout, retries, rewrite, fault, mirror, cors, headers", () => {
    const root = route(`{
      match: [{ uri: { prefix: / } }],
      delegate: { name: d },
      timeout: 3s,
      retries: { attempts: 5 },
      rewrite: { uri: /x },
      fault: { abort: { httpStatus: 500, percentage: { value: 1 } } },
      mirror: { host: m },
      mirrorPercentage: { value: 10 },
      corsPolicy: { allowOrigins: [{ exact: "https://a" }] },
      headers: { request: { set: { x: "1" } } } }`);
    const bare = mergeHttpRoute(root, route(`{ ${TO_A} }`))!;
    assert.equal(bare.timeout, 3000);
    assert.equal(bare.retries?.attempts, 5);
    assert.deepEqual(bare.rewrite, { uri: "/x" });
    assert.equal(bare.fault?.abort?.httpStatus, 500);
    assert.equal(bare.mirror?.host, "m");
    assert.equal(bare.mirrorPercentage?.value, 10);
    assert.ok(bare.corsPolicy);
    assert.deepEqual(bare.headers?.request?.set, { x: "1" });
    const own = mergeHttpRoute(root, route(`{ timeout: 1s, retries: { attempts: 0 }, ${TO_A} }`))!;
    assert.equal(own.timeout, 1000);
    assert.equal(own.retries?.attempts, 0);
  });
});

describe("mergeDelegates over a set of VirtualServices", () => {
  test("roots are replaced by merged copies in place of the delegating route; delegates disappear; others stay", () => {
    const all = load(
      vs(
        "root",
        `{ hosts: [a], http: [
          { match: [{ uri: { prefix: /x } }], delegate: { name: d1 } },
          { ${TO_A} } ] }`,
      ) +
        vs("d1", `{ http: [{ name: one, match: [{ uri: { prefix: /x/1 } }], ${TO_A} }, { name: two, ${TO_A} }] }`) +
        vs("plain", `{ hosts: [b], http: [{ ${TO_A} }] }`),
    );
    const { virtualServices, problems } = mergeDelegates(all);
    assert.deepEqual(
      virtualServices.map((v) => v.metadata.name),
      ["root", "plain"],
    );
    assert.equal(virtualServices[1], all[2], "a VirtualService without delegation is passed through as it is");
    const merged = virtualServices[0]!;
    assert.notEqual(merged, all[0]);
    assert.deepEqual(
      merged.spec.http.map((r) => r.name),
      ["one", "two", undefined],
    );
    assert.deepEqual(merged.spec.http[1]!.match[0]!.uri, { prefix: "/x" });
    assert.equal(problems.size, 0);
    assert.equal(all[0]!.spec.http.length, 2, "the stored root is not changed");
  });

  test("a delegate in another namespace, by name and namespace; exportTo decides whether the root may use it", () => {
    const all = load(
      vs(
        "root",
        `{ hosts: [a], http: [{ delegate: { name: d, namespace: team } }, { delegate: { name: p, namespace: team } }] }`,
      ) +
        vs("d", `{ http: [{ ${TO_A} }] }`, "team") +
        vs("p", `{ exportTo: ["."], http: [{ ${TO_A} }] }`, "team"),
    );
    const { virtualServices, problems } = mergeDelegates(all);
    assert.equal(virtualServices[0]!.spec.http.length, 1);
    assert.deepEqual(problems.get(virtualServices[0]!), [
      "VirtualService default/root http[1]: delegate VirtualService team/p is not exported to namespace default; route left out",
    ]);
  });

  test("a missing delegate, or a name that has hosts, leaves out that route only, with a problem", () => {
    const all = load(
      vs("root", `{ hosts: [a], http: [{ delegate: { name: gone } }, { delegate: { name: other } }, { ${TO_A} }] }`) +
        vs("other", `{ hosts: [b], http: [{ ${TO_A} }] }`),
    );
    const { virtualServices, problems } = mergeDelegates(all);
    assert.equal(virtualServices[0]!.spec.http.length, 1);
    assert.deepEqual(problems.get(virtualServices[0]!), [
      "VirtualService default/root http[0]: delegate VirtualService default/gone not found (or it has hosts); route left out",
      "VirtualService default/root http[1]: delegate VirtualService default/other not found (or it has hosts); route left out",
    ]);
  });

  test("one delegate shared by two roots is merged into each without one changing the other", () => {
    const all = load(
      vs("r1", `{ hosts: [a], http: [{ match: [{ uri: { prefix: /one } }], timeout: 1s, delegate: { name: d } }] }`) +
        vs("r2", `{ hosts: [b], http: [{ match: [{ uri: { prefix: /two } }], timeout: 2s, delegate: { name: d } }] }`) +
        vs("d", `{ http: [{ ${TO_A} }] }`),
    );
    const [r1, r2] = mergeDelegates(all).virtualServices;
    assert.deepEqual(r1!.spec.http[0]!.match[0]!.uri, { prefix: "/one" });
    assert.equal(r1!.spec.http[0]!.timeout, 1000);
    assert.deepEqual(r2!.spec.http[0]!.match[0]!.uri, { prefix: "/two" });
    assert.equal(r2!.spec.http[0]!.timeout, 2000);
    assert.equal(all[2]!.spec.http[0]!.timeout, undefined);
  });
});
