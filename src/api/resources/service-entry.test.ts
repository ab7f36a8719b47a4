import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ServiceEntrySpec, WorkloadEntrySpec } from "./types.ts";
import { assertSpecProblems, loadOne, resource, specOf } from "./testing.ts";

describe("ServiceEntry", () => {
  test("Istio's examples: an external HTTPS API by DNS, and VMs by STATIC addresses", () => {
    const external = specOf<ServiceEntrySpec>("ServiceEntry", {
      hosts: ["api.dropboxapi.com", "www.googleapis.com"],
      location: "MESH_EXTERNAL",
      ports: [{ number: 443, name: "https", protocol: "TLS" }],
      resolution: "DNS",
    });
    assert.deepEqual(external, {
      hosts: ["api.dropboxapi.com", "www.googleapis.com"],
      addresses: [],
      ports: [{ number: 443, protocol: "TLS", name: "https" }],
      location: "MESH_EXTERNAL",
      resolution: "DNS",
      endpoints: [],
      exportTo: [],
      subjectAltNames: [],
    });
    const vms = specOf<ServiceEntrySpec>("ServiceEntry", {
      hosts: ["mymongodb.somedomain"],
      addresses: ["192.192.192.192/24"],
      ports: [{ number: 27018, name: "mongodb", protocol: "MONGO", targetPort: 27017 }],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      endpoints: [
        {
          address: "2.2.2.2",
          labels: { version: "v1" },
          ports: { mongodb: 27017 },
          weight: 3,
          locality: "us-east/zone-a",
        },
        { address: "3.3.3.3", network: "vm-net", serviceAccount: "mongo" },
      ],
    });
    assert.deepEqual(vms.endpoints[0], {
      address: "2.2.2.2",
      ports: { mongodb: 27017 },
      labels: { version: "v1" },
      locality: "us-east/zone-a",
      weight: 3,
    });
    assert.deepEqual(vms.endpoints[1], {
      address: "3.3.3.3",
      ports: {},
      labels: {},
      network: "vm-net",
      serviceAccount: "mongo",
    });
    assert.equal(vms.ports[0].targetPort, 27017);
  });

  test('defaults: resolution NONE, location MESH_EXTERNAL; protocol from the port name; unset or "" alike', () => {
    const { resource: r, warnings } = loadOne(
      resource("ServiceEntry", {
        hosts: ["example.com"],
        ports: [
          { number: 80, name: "http-web" },
          { number: 8443, name: "grpc", protocol: "" },
          { number: 9000, name: "data" },
          { number: 81, name: "h", protocol: "http" },
          { number: 82, name: "tcp-x", protocol: "" },
        ],
      }),
    );
    const spec = r.spec as ServiceEntrySpec;
    assert.equal(spec.resolution, "NONE");
    assert.equal(spec.location, "MESH_EXTERNAL");
    assert.deepEqual(
      spec.ports.map((p) => p.protocol),
      ["HTTP", "GRPC", undefined, "HTTP", "TCP"],
    );
    // A port named without a protocol keeps none: its connections are sniffed (translate/sniffing.ts), as in Istio.
    assert.equal("protocol" in spec.ports[2]!, false);
    assert.deepEqual(warnings, []);
  });

  test("no ports: accepted (Istio's rule), with a warning that nothing is built for it", () => {
    for (const spec of [{ hosts: ["a.example"] }, { hosts: ["a.example"], ports: [] }]) {
      const { warnings } = loadOne(resource("ServiceEntry", spec));
      assert.deepEqual(warnings, [
        [
          "spec.ports",
          "none: no listener, route or cluster is built for these hosts, so the entry has no effect on traffic (add ports)",
        ],
      ]);
    }
  });

  test("refused: hosts, ports, protocols, addresses, resolution rules", () => {
    assertSpecProblems("ServiceEntry", { resolution: "DNS", ports: [{ number: 80, name: "http" }] }, [
      ["spec.hosts", "required: at least one host"],
    ]);
    assertSpecProblems(
      "ServiceEntry",
      {
        hosts: ["*"],
        addresses: ["not-an-ip"],
        ports: [
          { number: 0, name: "a", protocol: "HTTP" },
          { number: 80, name: "a", protocol: "SMTP" },
          { number: 80, protocol: "TCP" },
        ],
        resolution: "DNS_LOOKUP",
      },
      [
        ["spec.ports[0].number", "expected an integer 1-65535, got 0"],
        ["spec.ports[1].protocol", /^expected a protocol \(one of HTTP, HTTPS, GRPC, .*\), got "SMTP"$/],
        ["spec.ports[2].name", "required"],
        ["spec.ports[1].name", 'port name "a" is used twice'],
        ["spec.ports[2].number", "port 80 is listed twice"],
        ["spec.resolution", 'expected one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS, got "DNS_LOOKUP"'],
        ["spec.hosts[0]", 'a ServiceEntry host cannot be "*"'],
        ["spec.addresses[0]", 'expected an IP address or CIDR block, got "not-an-ip"'],
      ],
    );
  });

  test("DNS without endpoints resolves the hosts: wildcards refused; STATIC needs IP endpoints", () => {
    const ports = [{ number: 443, name: "https", protocol: "HTTPS" }];
    assertSpecProblems("ServiceEntry", { hosts: ["*.example.com"], ports, resolution: "DNS" }, [
      ["spec.hosts[0]", "DNS resolution without endpoints resolves the hosts: expected a hostname, not a wildcard"],
    ]);
    assert.equal(
      specOf<ServiceEntrySpec>("ServiceEntry", { hosts: ["*.example.com"], ports, resolution: "NONE" }).hosts[0],
      "*.example.com",
    );
    assertSpecProblems("ServiceEntry", { hosts: ["db"], ports, resolution: "STATIC" }, [
      ["spec.resolution", "STATIC resolution needs endpoints (or a workloadSelector)"],
    ]);
    assertSpecProblems(
      "ServiceEntry",
      { hosts: ["db"], ports, resolution: "STATIC", endpoints: [{ address: "db.internal", ports: { http: 80 } }] },
      [
        ["spec.endpoints[0].ports.http", "names no port of this ServiceEntry (https)"],
        ["spec.endpoints[0].address", 'expected an IP address (resolution is STATIC), got "db.internal"'],
      ],
    );
    assertSpecProblems(
      "ServiceEntry",
      {
        hosts: ["db"],
        ports,
        resolution: "STATIC",
        endpoints: [{ address: "1.1.1.1" }],
        workloadSelector: { labels: { app: "db" } },
      },
      [["spec", "only one of endpoints, workloadSelector may be set"]],
    );
  });

  test("resolution NONE with endpoints: refused, as Istio does", () => {
    assertSpecProblems(
      "ServiceEntry",
      { hosts: ["a.example"], ports: [{ number: 80, name: "http" }], endpoints: [{ address: "1.2.3.4" }] },
      [
        [
          "spec.endpoints",
          "not allowed with resolution NONE (traffic goes to the address the caller asked for; use STATIC or DNS)",
        ],
      ],
    );
  });
});

describe("WorkloadEntry", () => {
  test("a VM with labels, ports, weight, locality and service account", () => {
    const spec = specOf<WorkloadEntrySpec>("WorkloadEntry", {
      address: "10.0.0.7",
      ports: { http: 9080 },
      labels: { app: "details", version: "v2" },
      serviceAccount: "bookinfo-details",
      weight: 2,
      locality: "us-central1/us-central1-a",
      network: "vm-network",
    });
    assert.deepEqual(spec, {
      address: "10.0.0.7",
      ports: { http: 9080 },
      labels: { app: "details", version: "v2" },
      network: "vm-network",
      locality: "us-central1/us-central1-a",
      serviceAccount: "bookinfo-details",
      weight: 2,
    });
    assert.equal(specOf<WorkloadEntrySpec>("WorkloadEntry", { address: "vm1.example.com" }).address, "vm1.example.com");
    assert.equal(
      specOf<WorkloadEntrySpec>("WorkloadEntry", { address: "unix:///var/run/app.sock" }).address,
      "unix:///var/run/app.sock",
    );
  });

  test("refused: no address (and no network), bad ports, labels that are not strings, negative weight", () => {
    assertSpecProblems("WorkloadEntry", { ports: { http: 0, grpc: "x" }, labels: { version: 2 }, weight: -1 }, [
      ["spec.labels.version", 'expected a string, got 2 (quote it: "2")'],
      ["spec.ports.http", "expected a port number 1-65535, got 0"],
      ["spec.ports.grpc", 'expected a port number 1-65535, got "x"'],
      ["spec.weight", "expected an integer >= 0, got -1"],
      [
        "spec.address",
        "required (unless network is given: the workload is then reached through its network's gateway)",
      ],
    ]);
    assertSpecProblems("WorkloadEntry", { address: "not an address!" }, [["spec.address", /^expected a hostname/]]);
  });
});
