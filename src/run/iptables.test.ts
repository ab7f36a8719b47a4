import { test } from "node:test";
import assert from "node:assert/strict";
import { captureRules, reachableNameservers, resolvConf } from "./iptables.ts";
import { macOf, planSet, transparentPrerequisites } from "./netns.ts";

test("capture rules: Istio's chains, the sidecar's gid excluded, its own ports not captured inbound; DNS only with the proxy", () => {
  const rules = captureRules({ dns: false }).split("\n");
  assert.equal(rules[0], "*nat");
  assert.ok(rules.includes("COMMIT"));
  for (const chain of ["TRELLIS_INBOUND", "TRELLIS_IN_REDIRECT", "TRELLIS_OUTPUT", "TRELLIS_REDIRECT"])
    assert.ok(rules.includes(`:${chain} - [0:0]`), chain);
  // Order matters: the sidecar's own traffic and loopback return before the redirect to 15001.
  const at = (rule: string): number => {
    const i = rules.indexOf(rule);
    assert.notEqual(i, -1, rule);
    return i;
  };
  assert.ok(at("-A TRELLIS_OUTPUT -m owner --gid-owner 1337 -j RETURN") < at("-A TRELLIS_OUTPUT -j TRELLIS_REDIRECT"));
  assert.ok(at("-A TRELLIS_OUTPUT -d 127.0.0.1/32 -j RETURN") < at("-A TRELLIS_OUTPUT -j TRELLIS_REDIRECT"));
  at("-A TRELLIS_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN");
  at("-A TRELLIS_REDIRECT -p tcp -j REDIRECT --to-ports 15001");
  at("-A TRELLIS_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006");
  for (const port of [15001, 15006, 15053, 15000, 15021, 15090])
    assert.ok(
      at(`-A TRELLIS_INBOUND -p tcp --dport ${port} -j RETURN`) <
        at("-A TRELLIS_INBOUND -p tcp -j TRELLIS_IN_REDIRECT"),
    );
  assert.equal(rules.filter((r) => r.includes("15053") && r.includes("REDIRECT")).length, 0);
  const dns = captureRules({ dns: true }).split("\n");
  assert.ok(dns.includes("-A OUTPUT -p udp --dport 53 -m owner ! --gid-owner 1337 -j REDIRECT --to-ports 15053"));
  const tcp53 = dns.indexOf(
    "-A TRELLIS_OUTPUT -p tcp --dport 53 -m owner ! --gid-owner 1337 -j REDIRECT --to-ports 15053",
  );
  assert.ok(tcp53 !== -1 && tcp53 < dns.indexOf("-A TRELLIS_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN"));
});

test("resolv.conf: a pod's search path and ndots; loopback nameservers of the host are not reachable inside", () => {
  assert.equal(
    resolvConf("shop", ["127.0.0.1"]),
    "nameserver 127.0.0.1\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n",
  );
  assert.deepEqual(
    reachableNameservers("# x\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n nameserver ::1\nnameserver 1.1.1.1\n"),
    ["10.0.0.2", "1.1.1.1"],
  );
});

test("--transparent prerequisites: Linux, root and each tool, with the package that has it", () => {
  assert.deepEqual(
    transparentPrerequisites("darwin", 0, () => "/x"),
    ["Linux (this is darwin)"],
  );
  assert.deepEqual(
    transparentPrerequisites("linux", 0, () => "/x"),
    [],
  );
  assert.deepEqual(
    transparentPrerequisites("linux", 1000, (t) => (t === "ip" ? undefined : "/x")),
    ["root (running as uid 1000)", "ip (package iproute2)"],
  );
});

test("a planned set: named after this pid, its host end within 15 characters, the range from the lease", () => {
  const set = planSet(
    "/run/trellis",
    { address: "10.250.3.7", prefixLength: 16, gateway: "10.250.0.1", bridge: "trellis0" },
    "http://127.0.0.1:15014",
    "a-1.default",
  );
  assert.match(set.name, new RegExp(`^trellis-${process.pid}-\\d+$`));
  assert.ok(set.hostInterface.length <= 15);
  assert.equal(set.range, "10.250.0.0/16");
  assert.equal(set.resolvDir, `/etc/netns/${set.name}`);
  assert.equal(set.relaySocket, `/run/trellis/${set.name}.xds.sock`);
});

test("a namespace's MAC address carries its IPv4 address (locally administered, unicast)", () => {
  assert.equal(macOf("10.250.0.7"), "02:54:0a:fa:00:07");
  assert.equal(macOf("192.168.255.1"), "02:54:c0:a8:ff:01");
});
