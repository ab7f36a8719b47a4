// envoy.filters.listener.http_inspector on a real proxy: one listener sniffs each connection's first bytes and sends
// HTTP/1.1, HTTP/1.0 and HTTP/2 (prior knowledge) to a connection manager (chain matched by
// application_protocols), anything else — bytes that are no request line, a TLS ClientHello — to tcp_proxy (Istio's
// protocol sniffing on a port with no declared protocol). A silent client of a server-first protocol gets its
// greeting once listener_filters_timeout passes with continue_on_listener_filters_timeout (Istio's
// protocolDetectionTimeout). Also: the detection on its own, and the filter parsed by name and by @type.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { detectHttp } from "../src/proxy/listener/http-inspector.ts";
import { bootstrap, socketAddress, staticCluster, type Raw } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startTcpEcho } from "./support/upstreams.ts";
import { clientHello } from "./support/client-hello.ts";

const HCM = (name: string): Raw => ({
  name: "envoy.filters.network.http_connection_manager",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: name,
    codec_type: "AUTO",
    route_config: {
      name: "local",
      virtual_hosts: [
        {
          name: "all",
          domains: ["*"],
          routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "http" } } }],
        },
      ],
    },
  },
});

const TCP = (cluster: string): Raw => ({
  name: "envoy.filters.network.tcp_proxy",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
    stat_prefix: cluster,
    cluster,
  },
});

function sniffingListener(name: string, extra: Raw = {}): Raw {
  return {
    name,
    address: socketAddress(0),
    listener_filters: [
      {
        name: "envoy.filters.listener.tls_inspector",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
        },
      },
      {
        name: "envoy.filters.listener.http_inspector",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
        },
      },
    ],
    filter_chains: [
      {
        filter_chain_match: { application_protocols: ["http/1.1", "http/1.0", "h2c"] },
        filters: [HCM(name)],
      },
    ],
    default_filter_chain: { filters: [TCP("tcp")] },
    ...extra,
  };
}

function rawFirstChunk(port: number, data: Buffer | string | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => {
      if (data !== undefined) s.write(data);
    });
    s.setTimeout(10_000, () => s.destroy(new Error("nothing read within 10 s")));
    s.once("data", (d: Buffer) => {
      resolve(d);
      s.destroy();
    });
    s.on("error", reject);
  });
}

/** Writes `data` and reads until as many bytes came back. */
function echoed(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const s = net.connect(port, "127.0.0.1", () => s.write(data));
    s.setTimeout(10_000, () => s.destroy(new Error("not echoed within 10 s")));
    s.on("data", (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (n >= data.length) {
        resolve(Buffer.concat(chunks));
        s.destroy();
      }
    });
    s.on("error", reject);
  });
}

test("detectHttp: the preface, request lines, and what is not HTTP", () => {
  assert.equal(detectHttp(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), "h2c");
  assert.equal(detectHttp(Buffer.from("PRI * HTTP/2")), "more");
  assert.equal(detectHttp(Buffer.from("GET / HTTP/1.1\r\n")), "http/1.1");
  assert.equal(detectHttp(Buffer.from("POST /a?b HTTP/1.0\n")), "http/1.0");
  assert.equal(detectHttp(Buffer.from("GET /long-path-not-finished")), "more");
  assert.equal(detectHttp(Buffer.from("GET")), "more");
  assert.equal(detectHttp(Buffer.from("hello world\r\n")), "none");
  assert.equal(detectHttp(Buffer.from("GET / HTTP/3.0\r\n")), "none");
  assert.equal(detectHttp(Buffer.from([0x16, 0x03, 0x01, 0x00])), "none");
  assert.equal(detectHttp(Buffer.from("*1\r\n$4\r\nPING\r\n")), "none");
  assert.equal(detectHttp(Buffer.from("GET /\x00")), "none");
});

test("the filter parses by name and by @type; listed twice is refused", () => {
  const withFilters = (filters: Raw[]) =>
    JSON.stringify(bootstrap([{ ...sniffingListener("l"), listener_filters: filters }], [staticCluster("tcp", [1])]));
  const byName = parseBootstrap(withFilters([{ name: "envoy.filters.listener.http_inspector" }]), "t");
  assert.deepEqual(byName.staticResources.listeners[0]!.listenerFilters, [
    { kind: "http_inspector", name: "envoy.filters.listener.http_inspector" },
  ]);
  assert.throws(
    () =>
      parseBootstrap(
        withFilters([
          { name: "envoy.filters.listener.http_inspector" },
          { name: "envoy.filters.listener.http_inspector" },
        ]),
        "t",
      ),
    /http_inspector is listed twice/,
  );
});

describe("http_inspector on a real listener", () => {
  let echo: { port: number; close(): Promise<void> };
  let greeter: net.Server;
  let proxy: RunningProxy;

  before(async () => {
    echo = await startTcpEcho();
    greeter = net.createServer((s) => {
      s.on("error", () => {});
      s.write("220 ready\r\n");
    });
    await new Promise<void>((r) => greeter.listen(0, "127.0.0.1", r));
    const greeterPort = (greeter.address() as net.AddressInfo).port;
    const timed = sniffingListener("timed", {
      listener_filters_timeout: "0.2s",
      continue_on_listener_filters_timeout: true,
      default_filter_chain: { filters: [TCP("greeter")] },
    });
    proxy = await startProxy(
      bootstrap(
        [sniffingListener("sniff"), timed],
        [staticCluster("tcp", [echo.port]), staticCluster("greeter", [greeterPort])],
      ),
    );
  });

  after(async () => {
    await proxy.close();
    await echo.close();
    greeter.close();
  });

  test("HTTP/1.1 and HTTP/1.0 go to the connection manager", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: proxy.port("sniff"), path: "/", agent: false }, (res) => {
          let b = "";
          res.on("data", (c: Buffer) => (b += c.toString()));
          res.on("end", () => resolve(b));
        })
        .on("error", reject);
    });
    assert.equal(body, "http");
    const one0 = await rawFirstChunk(proxy.port("sniff"), "GET / HTTP/1.0\r\n\r\n");
    assert.match(one0.toString("latin1"), /^HTTP\/1\.1 200 /);
  });

  test("HTTP/2 with prior knowledge goes to the connection manager", async () => {
    const session = http2.connect(`http://127.0.0.1:${proxy.port("sniff")}`);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ":path": "/" });
        let b = "";
        req.on("data", (c: Buffer) => (b += c.toString()));
        req.on("end", () => resolve(b));
        req.on("error", reject);
      });
      assert.equal(body, "http");
    } finally {
      session.close();
    }
  });

  test("bytes that are not HTTP, and a TLS ClientHello, go to tcp_proxy", async () => {
    assert.equal((await rawFirstChunk(proxy.port("sniff"), "*1\r\n$4\r\nPING\r\n")).toString(), "*1\r\n$4\r\nPING\r\n");
    const hello = clientHello({ sni: "db.example.com" });
    assert.deepEqual(await echoed(proxy.port("sniff"), hello), hello);
  });

  test("a silent client of a server-first protocol gets the greeting once listener_filters_timeout passes", async () => {
    assert.equal((await rawFirstChunk(proxy.port("timed"), undefined)).toString(), "220 ready\r\n");
  });
});
