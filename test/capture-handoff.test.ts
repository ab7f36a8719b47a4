// use_original_dst and bind_to_port: false on a real proxy, without a network namespace: the PROXY protocol listener
// filter restores a connection's local address as original_dst does after an iptables REDIRECT (both are Envoy's
// localAddressRestored), so the hand-off can be driven from 127.0.0.1 with the destination written in the header.
// The netns tests (capture-netns.test.ts) do the same with real redirects.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { bootstrap, socketAddress, staticCluster, type Raw } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { exchange, namedServer, tcpChain } from "./support/capture.ts";
import { clientHello } from "./support/client-hello.ts";

const PROXY_PROTOCOL = "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol";

const header = (address: string, port: number): string => `PROXY TCP4 10.250.0.2 ${address} 40000 ${port}\r\n`;

function stat(p: RunningProxy, name: string, labels: Record<string, string>): number {
  return p.proxy.stats
    .toJSON()
    .filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    .reduce((sum, x) => sum + x.value, 0);
}

describe("use_original_dst hands a restored connection to the listener for its original destination", () => {
  const servers: Record<string, { port: number; close(): Promise<void> }> = {};
  let proxy: RunningProxy;
  let exactPort: number;

  before(async () => {
    for (const name of ["vip", "http8080", "v6", "exact", "passthrough", "dynamic"])
      servers[name] = await namedServer(name);
    const listeners: Raw[] = [
      {
        name: "virtualOutbound",
        address: socketAddress(0),
        use_original_dst: true,
        listener_filters: [
          { name: "envoy.filters.listener.proxy_protocol", typed_config: { "@type": PROXY_PROTOCOL } },
        ],
        filter_chains: [tcpChain("passthrough")],
      },
      {
        name: "inspecting",
        address: socketAddress(0),
        use_original_dst: true,
        listener_filters: [
          { name: "envoy.filters.listener.proxy_protocol", typed_config: { "@type": PROXY_PROTOCOL } },
          { name: "envoy.filters.listener.tls_inspector" },
        ],
        filter_chains: [tcpChain("passthrough")],
      },
      {
        name: "240.240.0.5_6379",
        address: socketAddress(6379, "240.240.0.5"),
        bind_to_port: false,
        filter_chains: [tcpChain("vip")],
      },
      {
        name: "0.0.0.0_8080",
        address: socketAddress(8080, "0.0.0.0"),
        bind_to_port: false,
        filter_chains: [tcpChain("http8080")],
      },
      { name: "[::]_8080", address: socketAddress(8080, "::"), bind_to_port: false, filter_chains: [tcpChain("v6")] },
      { name: "exact", address: socketAddress(0), filter_chains: [tcpChain("exact")] },
    ];
    const clusters = Object.entries(servers).map(([name, s]) => staticCluster(name, [s.port]));
    proxy = await startProxy(bootstrap(listeners, clusters));
    exactPort = proxy.port("exact");
  });

  after(async () => {
    await proxy?.close();
    for (const s of Object.values(servers)) await s.close();
  });

  test("exact address and port, then a bind_to_port: false listener on 0.0.0.0:port, then its own chains", async () => {
    const port = proxy.port("virtualOutbound");
    assert.equal(await exchange(port, header("240.240.0.5", 6379) + "SET k v\r\n"), "vip|SET k v\r\n");
    assert.equal(
      await exchange(port, header("10.250.3.7", 8080) + "GET / HTTP/1.0\r\n\r\n"),
      "http8080|GET / HTTP/1.0\r\n\r\n",
    );
    assert.equal(await exchange(port, header("127.0.0.1", exactPort) + "exact bytes"), "exact|exact bytes");
    // 240.240.0.5:6380 and 10.250.3.7:9090 have no listener: the accepting listener's chains take them.
    assert.equal(await exchange(port, header("240.240.0.5", 6380) + "x"), "passthrough|x");
    assert.equal(await exchange(port, header("10.250.3.7", 9090) + "y"), "passthrough|y");
  });

  test("bytes the accepting listener's filters read (a ClientHello) reach the listener handed to, intact", async () => {
    const hello = clientHello({ sni: "redis.example.org", alpn: ["h2"] });
    const got = await exchange(
      proxy.port("inspecting"),
      Buffer.concat([Buffer.from(header("240.240.0.5", 6379)), hello, Buffer.from("after")]),
    );
    assert.equal(got, `vip|${Buffer.concat([hello, Buffer.from("after")]).toString("latin1")}`);
  });

  test("IPv6: a bind_to_port: false listener on [::]:port takes IPv6 destinations, 0.0.0.0:port the IPv4 ones", async () => {
    const port = proxy.port("virtualOutbound");
    const v6 = (address: string, p: number): string => `PROXY TCP6 fd7e:250::2 ${address} 40000 ${p}\r\n`;
    assert.equal(await exchange(port, v6("fd7e:250::9", 8080) + "six"), "v6|six");
    assert.equal(await exchange(port, v6("fd7e:0250:0:0::9", 8080) + "long form"), "v6|long form");
    assert.equal(await exchange(port, v6("fd7e:250::9", 9090) + "none"), "passthrough|none");
    assert.equal(await exchange(port, header("10.250.3.7", 8080) + "four"), "http8080|four");
  });

  test("the listener that handles a connection counts it (listener.<address>.*), as Envoy", async () => {
    const port = proxy.port("virtualOutbound");
    const total = (address: string) =>
      stat(proxy, "envoy_listener_downstream_cx_total", { envoy_listener_address: address });
    const vip = total("240.240.0.5_6379");
    const own = total("127.0.0.1_0");
    await exchange(port, header("240.240.0.5", 6379) + "a");
    await exchange(port, header("240.240.0.5", 6379) + "b");
    await exchange(port, header("10.1.1.1", 1) + "c");
    assert.equal(total("240.240.0.5_6379") - vip, 2);
    assert.equal(total("127.0.0.1_0") - own, 1);
  });

  test("LDS adds and removes a bind_to_port: false listener; a removed (draining) one is no target", async () => {
    const port = proxy.port("virtualOutbound");
    const dynamic = {
      name: "240.240.0.9_5432",
      address: socketAddress(5432, "240.240.0.9"),
      bind_to_port: false,
      filter_chains: [tcpChain("dynamic")],
    };
    assert.equal(await exchange(port, header("240.240.0.9", 5432) + "q"), "passthrough|q");
    await proxy.proxy.applyResources(TYPE_URL.listener, "1", [dynamic]);
    // In /config_dump's dynamic listeners, bind_to_port: false as sent.
    const dump = (await (await fetch(`http://127.0.0.1:${proxy.adminPort}/config_dump`)).json()) as {
      configs: { dynamic_listeners?: { name: string; active_state: { listener: Raw } }[] }[];
    };
    const listed = dump.configs.flatMap((c) => c.dynamic_listeners ?? []).find((l) => l.name === dynamic.name);
    assert.equal(listed?.active_state.listener.bind_to_port, false);
    // An open connection on it, idle, while the listener goes away.
    const held = net.connect({ port, allowHalfOpen: true });
    await new Promise((resolve) => held.once("connect", resolve));
    held.write(header("240.240.0.9", 5432) + "held ");
    assert.equal(await exchange(port, header("240.240.0.9", 5432) + "q"), "dynamic|q");
    await proxy.proxy.applyResources(TYPE_URL.listener, "2", []);
    assert.equal(await exchange(port, header("240.240.0.9", 5432) + "q"), "passthrough|q");
    // The connection it had keeps its chain and its upstream: it finishes there.
    const chunks: Buffer[] = [];
    held.on("data", (c: Buffer) => chunks.push(c));
    const closed = new Promise((resolve) => held.once("close", resolve));
    held.end("tail");
    await closed;
    assert.equal(Buffer.concat(chunks).toString(), "dynamic|held tail");
  });
});

describe("prefix_ranges and source_prefix_ranges on a listener's own sockets (no listener filter)", () => {
  test("the connection's local and peer addresses pick the chain, the longest prefix first", async () => {
    const servers = await Promise.all(["host", "net8", "peer", "other"].map((n) => namedServer(n)));
    const [host, net8, peer, other] = servers;
    const ranges = (address_prefix: string, prefix_len: number) => [{ address_prefix, prefix_len }];
    const proxy = await startProxy(
      bootstrap(
        [
          {
            name: "by-address",
            address: socketAddress(0, "0.0.0.0"),
            filter_chains: [
              tcpChain("net8", { prefix_ranges: ranges("127.0.0.0", 8) }),
              tcpChain("host", { prefix_ranges: ranges("127.0.0.3", 32) }),
              tcpChain("peer", {
                prefix_ranges: ranges("127.0.0.4", 32),
                source_prefix_ranges: ranges("127.0.0.9", 32),
              }),
            ],
            default_filter_chain: tcpChain("other"),
          },
        ],
        [
          staticCluster("host", [host!.port]),
          staticCluster("net8", [net8!.port]),
          staticCluster("peer", [peer!.port]),
          staticCluster("other", [other!.port]),
        ],
      ),
    );
    try {
      const port = proxy.port("by-address");
      assert.equal(await exchange(port, "1", "127.0.0.1"), "net8|1");
      assert.equal(await exchange(port, "2", "127.0.0.3"), "host|2");
      assert.equal(await exchange(port, "3", "127.0.0.4", "127.0.0.9"), "peer|3");
      // 127.0.0.4/32 is the longest prefix for it: its only chain wants another peer, so the default (no backtracking).
      assert.equal(await exchange(port, "4", "127.0.0.4", "127.0.0.1"), "other|4");
    } finally {
      await proxy.close();
      for (const s of servers) await s.close();
    }
  });
});
