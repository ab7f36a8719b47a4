import { test } from "node:test";
import assert from "node:assert/strict";
import { TYPE } from "./message.ts";
import { LookupTable, NameTableError, type LookupResult } from "./table.ts";
import { MESH_NAMES } from "./testing.ts";

const nameTable = {
  table: {
    ...MESH_NAMES,
    "*.eu.example.org": { ips: ["240.240.8.2"] },
    "api.example.org": { ips: ["240.240.8.3"], alt_hosts: ["api.example.net"] },
  },
};

const table = LookupTable.build([nameTable], { namespace: "default" });

function a(r: LookupResult): [string, number, string][] | "not found" {
  if (!r.found) return "not found";
  return r.answers.map((x) => [x.name, x.type, "address" in x ? x.address : "target" in x ? x.target : ""]);
}

test("every name form of a registry service: FQDN, search-path forms, name.namespace, short name in its namespace", () => {
  const fqdn = [["meeting.default.svc.cluster.local", TYPE.A, "240.240.3.7"]];
  assert.deepEqual(a(table.lookup("meeting.default.svc.cluster.local.", TYPE.A)), fqdn);
  assert.deepEqual(a(table.lookup("MEETING.Default.SVC.cluster.local", TYPE.A)), [
    ["MEETING.Default.SVC.cluster.local", TYPE.A, "240.240.3.7"],
  ]);
  assert.deepEqual(a(table.lookup("meeting.", TYPE.A)), [["meeting", TYPE.A, "240.240.3.7"]]);
  assert.deepEqual(a(table.lookup("meeting.default.", TYPE.A)), [["meeting.default", TYPE.A, "240.240.3.7"]]);
  assert.deepEqual(a(table.lookup("meeting.default.svc.", TYPE.A)), [["meeting.default.svc", TYPE.A, "240.240.3.7"]]);
  // `meeting.default` with the pod's search list: the first try is meeting.default.default.svc.cluster.local.
  assert.deepEqual(a(table.lookup("meeting.default.default.svc.cluster.local.", TYPE.A)), [
    ["meeting.default.default.svc.cluster.local", TYPE.CNAME, "meeting.default"],
    ["meeting.default", TYPE.A, "240.240.3.7"],
  ]);
  // Another namespace's service: name.namespace, not the bare short name.
  assert.deepEqual(a(table.lookup("billing.payments", TYPE.A)), [["billing.payments", TYPE.A, "240.240.0.9"]]);
  assert.deepEqual(a(table.lookup("billing.payments", TYPE.AAAA)), [["billing.payments", TYPE.AAAA, "fd00::9"]]);
  assert.equal(table.lookup("billing", TYPE.A).found, false);
});

test("a mesh name with IPv4 only answers AAAA with NOERROR and no records (NODATA); other types are not answered", () => {
  assert.deepEqual(table.lookup("meeting.default.svc.cluster.local", TYPE.AAAA), { found: true, answers: [] });
  assert.deepEqual(table.lookup("meeting.default.default.svc.cluster.local", TYPE.AAAA), { found: true, answers: [] });
  assert.equal(table.lookup("meeting.default.svc.cluster.local", TYPE.MX).found, false);
});

test("wildcards: the most specific wins, an exact host beats them, alt_hosts answer, the apex does not match", () => {
  assert.deepEqual(a(table.lookup("a.example.org", TYPE.A)), [["a.example.org", TYPE.A, "240.240.8.1"]]);
  assert.deepEqual(a(table.lookup("x.y.example.org", TYPE.A)), [["x.y.example.org", TYPE.A, "240.240.8.1"]]);
  assert.deepEqual(a(table.lookup("a.eu.example.org", TYPE.A)), [["a.eu.example.org", TYPE.A, "240.240.8.2"]]);
  assert.deepEqual(a(table.lookup("api.example.org", TYPE.A)), [["api.example.org", TYPE.A, "240.240.8.3"]]);
  assert.deepEqual(a(table.lookup("API.example.NET", TYPE.A)), [["API.example.NET", TYPE.A, "240.240.8.3"]]);
  assert.equal(table.lookup("example.org", TYPE.A).found, false);
  assert.deepEqual(a(table.lookup("a.example.org.default.svc.cluster.local", TYPE.A)), [
    ["a.example.org.default.svc.cluster.local", TYPE.CNAME, "a.example.org"],
    ["a.example.org", TYPE.A, "240.240.8.1"],
  ]);
  assert.equal(table.lookup("www.google.com", TYPE.A).found, false);
  assert.equal(table.lookup("www.google.com.default.svc.cluster.local", TYPE.A).found, false);
});

test("a bad table names every host and field at fault", () => {
  assert.throws(
    () =>
      LookupTable.build(
        [{ table: { "ok.example.org": { ips: ["10.0.0.1", "nope"] }, "a.*.org": { ips: [] }, "": { ips: [] } } }],
        { namespace: "default" },
      ),
    (err: unknown) =>
      err instanceof NameTableError &&
      err.code === "TRELLIS_DNS_NAME_TABLE" &&
      err.message.includes(`table["ok.example.org"].ips[1]: "nope" is not an IPv4 or IPv6 address`) &&
      err.message.includes(`table["a.*.org"]: label "*"`) &&
      err.message.includes(`table[""]: an empty host name`),
  );
});
