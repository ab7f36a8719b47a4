// The DNS proxy as a transparent namespace uses it (root, Linux): inside a network namespace this test creates, the
// proxy listens on 127.0.0.1:15053 under gid 1337; the namespace's nat rules send UDP and TCP to port 53 not from
// that gid there (as istio-iptables does), and its resolv.conf is a pod's (`nameserver` the host end, `search
// default.svc.cluster.local svc.cluster.local cluster.local`, `options ndots:5`). An app's getaddrinfo (Node's
// dns.lookup, glibc's resolver) then finds mesh names by their short forms through the search path, over UDP and
// (RES_OPTIONS=use-vc) TCP, and names outside the mesh through the proxy's upstream on 127.0.0.1:53, which the
// gid exclusion keeps from being sent back to the proxy.

import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { ChildProcess } from "node:child_process";
import { netnsSkipReason, withNetns, type Netns } from "./support/netns.ts";

const octet = process.pid % 250;
const SIDECAR_GID = 1337;

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (c) => (err += c));
    child.stdout!.on("data", (c) => {
      out += c;
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.once("exit", (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
}

/** Resolves each name with getaddrinfo (IPv4) inside the namespace, as an app would; name → addresses or error code. */
function lookupInside(ns: Netns, names: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const code = `
    const dns = require("node:dns").promises;
    (async () => {
      const out = {};
      for (const name of process.argv.slice(1)) {
        try { out[name] = (await dns.lookup(name, { family: 4, all: true })).map((a) => a.address); }
        catch (e) { out[name] = e.code; }
      }
      process.stdout.write(JSON.stringify(out));
    })();`;
  const child = ns.spawn(process.execPath, ["-e", code, ...names], { env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (c) => (out += c));
    child.stderr!.on("data", (c) => (err += c));
    child.once("exit", (status) => {
      if (status === 0) resolve(JSON.parse(out) as Record<string, unknown>);
      else reject(new Error(`lookup exited ${status}: ${err}`));
    });
  });
}

describe(
  "the DNS proxy inside a network namespace behind the port-53 redirect",
  { skip: netnsSkipReason, timeout: 120_000 },
  () => {
    it("getaddrinfo finds mesh names by their short forms over UDP and TCP, and outside names through the upstream", async () => {
      await withNetns({ host: `10.217.${octet}.1/30`, inside: `10.217.${octet}.2/30` }, async (ns) => {
        const etc = `/etc/netns/${ns.name}`;
        mkdirSync(etc, { recursive: true });
        try {
          writeFileSync(
            `${etc}/resolv.conf`,
            `nameserver 10.217.${octet}.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 attempts:1 timeout:5\n`,
          );
          for (const proto of ["udp", "tcp"]) {
            const rule = ["-t", "nat", "-A", "OUTPUT", "-p", proto, "--dport", "53"];
            await ns.exec("iptables", [...rule, "-m", "owner", "--gid-owner", String(SIDECAR_GID), "-j", "RETURN"]);
            await ns.exec("iptables", [...rule, "-j", "REDIRECT", "--to-ports", "15053"]);
          }
          const child = ns.spawnNode(["test/support/dns-netns-child.ts"], { group: SIDECAR_GID });
          assert.equal(await firstLine(child), `ready ${SIDECAR_GID}`);

          const expected = {
            meeting: ["240.240.3.7"],
            "meeting.default": ["240.240.3.7"],
            "meeting.default.svc.cluster.local": ["240.240.3.7"],
            "a.example.org": ["240.240.8.1"],
            "www.outside.test": ["192.0.2.1"],
            "missing.outside.test": "ENOTFOUND",
          };
          assert.deepEqual(await lookupInside(ns, Object.keys(expected)), expected);
          assert.deepEqual(await lookupInside(ns, Object.keys(expected), { RES_OPTIONS: "use-vc" }), expected);
        } finally {
          rmSync(etc, { recursive: true, force: true });
        }
      });
    });
  },
);
