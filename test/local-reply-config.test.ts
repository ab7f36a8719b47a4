// local_reply_config on the connection manager, end to end: mappers (status code, header and response flag
// filters, and/or) change the status, the body and the headers of the proxy's own replies; body_format (text or
// JSON, with the access log's operators and %LOCAL_REPLY_BODY%) shapes every local reply; an upstream's response
// is never touched, as in Envoy.

import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { parseBootstrap } from "../src/api/bootstrap.ts";
import { Proxy } from "../src/proxy/server.ts";
import { h2request, request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster, type Raw } from "./support/envoy-config.ts";
import { startProxy, type RunningProxy } from "./support/proxies.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";

const LOCAL_REPLY_CONFIG: Raw = {
  mappers: [
    {
      // A 503 the proxy makes (no healthy upstream) becomes 401 with its own body and a header.
      filter: { status_code_filter: { comparison: { op: "EQ", value: { default_value: 503, runtime_key: "k" } } } },
      status_code: 401,
      body: { inline_string: "not allowed" },
      headers_to_add: [{ header: { key: "x-mapped", value: "yes" }, append: false }],
    },
    {
      // A debugging client with no route gets JSON.
      filter: {
        and_filter: {
          filters: [
            { header_filter: { header: { name: "x-debug", present_match: true } } },
            { response_flag_filter: { flags: ["NR"] } },
          ],
        },
      },
      body_format_override: {
        json_format: { code: "%RESPONSE_CODE%", flags: "%RESPONSE_FLAGS%", body: "%LOCAL_REPLY_BODY%" },
      },
    },
    { filter: { response_flag_filter: { flags: ["NR"] } }, status_code: 418, body: { inline_string: "no such route" } },
  ],
  body_format: { text_format: "[%RESPONSE_CODE% %RESPONSE_FLAGS%] %LOCAL_REPLY_BODY%", content_type: "text/x-trellis" },
};

async function start(upstream: Upstream, config: Raw = LOCAL_REPLY_CONFIG): Promise<RunningProxy> {
  return startProxy(
    bootstrap(
      [
        httpListener(
          "http",
          allDomains([
            { match: { prefix: "/app" }, route: { cluster: "app" } },
            { match: { prefix: "/empty" }, route: { cluster: "empty" } },
          ]),
          { local_reply_config: config },
        ),
      ],
      [
        staticCluster("app", [upstream.port]),
        { name: "empty", type: "STATIC", connect_timeout: "1s", load_assignment: { cluster_name: "empty" } },
      ],
    ),
  );
}

test("HTTP/1.1: the first matching mapper, then body_format; an upstream's response untouched", async () => {
  const upstream = await startEchoServer("app", (_req, res) => {
    res.writeHead(503, { "content-type": "text/plain" });
    res.end("upstream says 503");
  });
  const proxy = await start(upstream);
  try {
    const uh = await request(proxy.port(), { path: "/empty" });
    assert.equal(uh.status, 401);
    assert.equal(uh.body, "[401 UH] not allowed");
    assert.equal(uh.headers["content-type"], "text/x-trellis");
    assert.equal(uh.headers["x-mapped"], "yes");
    assert.equal(uh.headers["x-trellis-response-flags"], "UH");

    const debug = await request(proxy.port(), { path: "/nowhere", headers: { "x-debug": "1" } });
    assert.equal(debug.status, 404);
    assert.equal(debug.headers["content-type"], "application/json");
    // An empty body is an empty string, as Envoy prints it (not the access log's null for a missing value).
    assert.deepEqual(JSON.parse(debug.body), { code: 404, flags: "NR", body: "" });

    const teapot = await request(proxy.port(), { path: "/nowhere" });
    assert.equal(teapot.status, 418);
    assert.equal(teapot.body, "[418 NR] no such route");

    // The upstream's own 503 is relayed as it is: mappers apply to local replies only.
    const relayed = await request(proxy.port(), { path: "/app" });
    assert.equal(relayed.status, 503);
    assert.equal(relayed.body, "upstream says 503");
    assert.equal(relayed.headers["x-mapped"], undefined);
  } finally {
    await proxy.close();
    await upstream.close();
  }
});

test("HTTP/2: the same rewrite", async () => {
  const upstream = await startEchoServer("app");
  const proxy = await start(upstream);
  const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
  try {
    const r = await h2request(session, { ":path": "/empty" });
    assert.equal(r.status, 401);
    assert.equal(r.body, "[401 UH] not allowed");
    assert.equal(r.headers["x-mapped"], "yes");
  } finally {
    session.close();
    await proxy.close();
    await upstream.close();
  }
});

test("gRPC callers: the mapped status becomes the gRPC status, the body the grpc-message (trailers-only)", async () => {
  const upstream = await startEchoServer("app");
  const proxy = await start(upstream);
  const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
  try {
    const r = await h2request(
      session,
      { ":method": "POST", ":path": "/empty", "content-type": "application/grpc" },
      "",
    );
    assert.equal(r.status, 200);
    assert.equal(r.headers["grpc-status"], "16"); // 401 → UNAUTHENTICATED
    assert.equal(r.headers["grpc-message"], "[401 UH] not allowed");
    assert.equal(r.headers["x-mapped"], "yes");
  } finally {
    session.close();
    await proxy.close();
    await upstream.close();
  }
});

test("what Trellis cannot honour is refused with its path, every problem at once", () => {
  const config = bootstrap(
    [
      httpListener("http", allDomains([]), {
        local_reply_config: {
          mappers: [
            {
              filter: { duration_filter: { comparison: { op: "GE", value: { default_value: 1 } } } },
              status_code: 500,
            },
            { filter: { response_flag_filter: { flags: ["XX"] } } },
            {
              status_code: 99,
              filter: { status_code_filter: { comparison: { op: "EQ", value: { default_value: 1 } } } },
            },
          ],
          body_format: { text_format: "%NOT_AN_OPERATOR%" },
        },
      }),
    ],
    [],
  );
  assert.throws(
    () => new Proxy(parseBootstrap(JSON.stringify(config), "test"), { log: () => {} }),
    (err: Error) => {
      for (const path of [
        "local_reply_config.mappers[0].filter.duration_filter",
        "local_reply_config.mappers[1].filter.response_flag_filter.flags[0]",
        "local_reply_config.mappers[2].status_code",
        "local_reply_config.body_format",
      ])
        assert.ok(err.message.includes(path), `${path} in ${err.message}`);
      return true;
    },
  );
});
