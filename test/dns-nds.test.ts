// The NameTable over xDS into the DNS proxy: the xDS client subscribes to Istio's NDS type when given a sink for it,
// in state of the world (against the test's ADS server, support/fake-ads.ts) and delta (against Trellis's own
// XdsServer); an update changes the answer, a bad table is NACKed naming host and field and the last good one
// keeps answering.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Resolver } from "node:dns/promises";
import { ManualClock } from "../src/api/clock.ts";
import { NAME_TABLE_TYPE_URL, TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { XdsServer } from "../src/control/xds/server.ts";
import type { NackEvent, Snapshot } from "../src/control/xds/types.ts";
import type { XdsTarget } from "../src/proxy/config/target.ts";
import { DnsProxy } from "../src/proxy/dns/server.ts";
import { XdsClient, type XdsProtocolName } from "../src/proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../src/proxy/xds-client/node.ts";
import { StatsStore } from "../src/telemetry/stats.ts";
import { FakeAds } from "./support/fake-ads.ts";
import { FakeResolver } from "./support/fake-dns.ts";
import { waitFor } from "./support/wait.ts";

function table(meetingIp: string | number): Record<string, unknown> {
  return {
    table: {
      "meeting.default.svc.cluster.local": {
        ips: [meetingIp],
        registry: "Kubernetes",
        shortname: "meeting",
        namespace: "default",
      },
    },
  };
}

/** The rest of the proxy, for this test: every other type is accepted as it comes. */
const acceptAll: XdsTarget = {
  applyResources: () => Promise.resolve(),
  routeConfigNames: () => [],
  edsServiceNames: () => [],
};

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function dnsProxyAndClient(server: string, protocol: XdsProtocolName) {
  const upstream = await new FakeResolver().start();
  const dns = new DnsProxy({
    address: "127.0.0.1",
    port: 0,
    namespace: "default",
    upstreams: [{ host: "127.0.0.1", port: upstream.port }],
    stats: new StatsStore(),
  });
  await dns.start();
  const nacks: string[] = [];
  const client = new XdsClient({
    servers: [server],
    node: nodeFromIdentity({ nodeId: `dns-${protocol}`, namespace: "default" }),
    target: acceptAll,
    clock: new ManualClock(),
    protocol,
    nameTable: (_version, resources) => dns.applyNameTable(resources),
  });
  client.onEvent((e) => {
    if (e.kind === "nack") nacks.push(e.message);
  });
  client.start();
  closers.push(async () => {
    client.stop();
    await dns.close();
    await upstream.stop();
  });
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${dns.address.port}`]);
  return { dns, client, nacks, resolver };
}

describe("NDS over state of the world", () => {
  test("subscribed (wildcard, after CDS and LDS); an update changes the answer; a bad table is NACKed, the last good kept", async () => {
    const ads = await new FakeAds().start();
    closers.push(() => ads.stop());
    ads.set(NAME_TABLE_TYPE_URL, "1", [table("240.240.3.7")]);
    const { client, nacks, resolver } = await dnsProxyAndClient(ads.address, "sotw");
    await waitFor(() => client.version(NAME_TABLE_TYPE_URL) === "1");
    const order = ads.requests.filter((r) => r.response_nonce === "").map((r) => r.type_url);
    assert.deepEqual(order, [TYPE_URL.cluster, TYPE_URL.listener, NAME_TABLE_TYPE_URL]);
    assert.deepEqual(ads.requests.find((r) => r.type_url === NAME_TABLE_TYPE_URL)!.resource_names ?? [], []);
    assert.deepEqual(await resolver.resolve4("meeting"), ["240.240.3.7"]);

    ads.set(NAME_TABLE_TYPE_URL, "2", [table("240.240.3.8")]);
    await ads.reply(NAME_TABLE_TYPE_URL, "2");
    assert.deepEqual(await resolver.resolve4("meeting.default"), ["240.240.3.8"]);

    ads.set(NAME_TABLE_TYPE_URL, "3", [table("not-an-ip")]);
    const nack = await ads.reply(NAME_TABLE_TYPE_URL, "3");
    assert.equal(nack.version_info, "2");
    assert.match(
      nack.error_detail!.message!,
      /table\["meeting\.default\.svc\.cluster\.local"\]\.ips\[0\]: "not-an-ip" is not an IPv4 or IPv6 address/,
    );
    assert.equal(nacks.length, 1);
    assert.equal(client.version(NAME_TABLE_TYPE_URL), "2");
    assert.deepEqual(await resolver.resolve4("meeting.default.svc.cluster.local"), ["240.240.3.8"]);
  });

  test("without a NameTable sink the client does not subscribe to NDS (explicit-mode sidecars unchanged)", async () => {
    const ads = await new FakeAds().start();
    closers.push(() => ads.stop());
    const client = new XdsClient({
      servers: [ads.address],
      node: nodeFromIdentity({ nodeId: "no-dns", namespace: "default" }),
      target: acceptAll,
      clock: new ManualClock(),
      protocol: "sotw",
    });
    closers.push(() => client.stop());
    client.start();
    await waitFor(() => ads.requests.length >= 2);
    await ads.nextRequest((r) => r.type_url === TYPE_URL.listener, 0);
    assert.equal(
      ads.requests.some((r) => r.type_url === NAME_TABLE_TYPE_URL),
      false,
    );
  });
});

describe("NDS from Trellis's own ADS server (XdsServer), delta and state of the world", () => {
  for (const protocol of ["delta", "sotw"] as const)
    test(`${protocol}: the wildcard subscription gets the table; an update changes the answer; a bad table is NACKed and the last good kept`, async () => {
      const world: { current: Snapshot } = {
        current: new Map([[NAME_TABLE_TYPE_URL, new Map([["", table("240.240.3.7")]])]]),
      };
      const serverNacks: NackEvent[] = [];
      const xds = new XdsServer({
        source: { snapshotFor: () => world.current },
        host: "127.0.0.1",
        port: 0,
        debounceMs: 1,
        log: () => {},
        hooks: { onNack: (e) => serverNacks.push(e) },
      });
      await xds.start();
      closers.push(() => xds.stop(100));
      const { client, nacks, resolver } = await dnsProxyAndClient(`127.0.0.1:${xds.port}`, protocol);
      await waitFor(() => client.version(NAME_TABLE_TYPE_URL) !== "");
      assert.deepEqual(await resolver.resolve4("meeting"), ["240.240.3.7"]);

      const good = client.version(NAME_TABLE_TYPE_URL);
      world.current = new Map([[NAME_TABLE_TYPE_URL, new Map([["", table("240.240.3.8")]])]]);
      xds.refresh();
      await waitFor(() => client.version(NAME_TABLE_TYPE_URL) !== good);
      assert.deepEqual(await resolver.resolve4("meeting"), ["240.240.3.8"]);

      const second = client.version(NAME_TABLE_TYPE_URL);
      world.current = new Map([[NAME_TABLE_TYPE_URL, new Map([["", table("300.1.1.1")]])]]);
      xds.refresh();
      await waitFor(() => nacks.length === 1);
      assert.match(nacks[0]!, /table\["meeting\.default\.svc\.cluster\.local"\]\.ips\[0\]: "300\.1\.1\.1"/);
      await waitFor(() => serverNacks.length === 1);
      assert.equal(client.version(NAME_TABLE_TYPE_URL), second);
      assert.deepEqual(await resolver.resolve4("meeting"), ["240.240.3.8"]);
    });
});
