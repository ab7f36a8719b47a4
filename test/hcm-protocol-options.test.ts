// The connection manager's http_protocol_options and http2_protocol_options, honoured on the wire or refused:
// default_host_for_http_10 routes an HTTP/1.0 request without Host; the HTTP/2 codec announces
// max_concurrent_streams and initial_stream_window_size in its SETTINGS.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { assertIssues } from "../src/api/xds/parse/testing.ts";
import { loadBootstrap } from "../src/proxy/config/load-bootstrap.ts";
import { rawExchange } from "./support/clients.ts";
import { bootstrap, httpListener, type Raw } from "./support/envoy-config.ts";
import { startProxy } from "./support/proxies.ts";

const HCM = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";

function onlyExampleCom(hcmExtra: Raw): Raw {
  return bootstrap(
    [
      httpListener(
        "in",
        {
          virtual_hosts: [
            {
              name: "example",
              domains: ["www.example.com"],
              routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "found" } } }],
            },
          ],
        },
        hcmExtra,
      ),
    ],
    [],
  );
}

describe("connection manager protocol options", () => {
  test("default_host_for_http_10 is the authority of an HTTP/1.0 request without Host", async () => {
    const withDefault = await startProxy(
      onlyExampleCom({ http_protocol_options: { accept_http_10: true, default_host_for_http_10: "www.example.com" } }),
    );
    const without = await startProxy(onlyExampleCom({}));
    try {
      const answered = await rawExchange(withDefault.port(), "GET / HTTP/1.0\r\n\r\n");
      assert.match(answered, /^HTTP\/1\.[01] 200 /);
      assert.match(answered, /found$/);
      assert.match(await rawExchange(without.port(), "GET / HTTP/1.0\r\n\r\n"), /^HTTP\/1\.[01] 404 /);
      // A Host the client gives still wins.
      assert.match(
        await rawExchange(withDefault.port(), "GET / HTTP/1.0\r\nHost: other.example\r\n\r\n"),
        /^HTTP\/1\.[01] 404 /,
      );
    } finally {
      await withDefault.close();
      await without.close();
    }
  });

  test("http2_protocol_options: the SETTINGS the downstream codec announces", async () => {
    const proxy = await startProxy(
      onlyExampleCom({
        codec_type: "HTTP2",
        http2_protocol_options: { max_concurrent_streams: 7, initial_stream_window_size: 131_072 },
      }),
    );
    const session = http2.connect(`http://127.0.0.1:${proxy.port()}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        session.once("remoteSettings", resolve);
        session.once("error", reject);
      });
      assert.equal(settings.maxConcurrentStreams, 7);
      assert.equal(settings.initialWindowSize, 131_072);
    } finally {
      session.close();
      await proxy.close();
    }
  });

  test("what the codec cannot honour is refused, with the field path", () => {
    const raw = onlyExampleCom({
      http_protocol_options: { accept_http_10: false, header_key_format: { proper_case_words: {} } },
      http2_protocol_options: { hpack_table_size: 0, initial_stream_window_size: 100 },
    });
    assertIssues(
      () => loadBootstrap(JSON.stringify(raw), "b.json"),
      [
        [`${HCM}.http_protocol_options.header_key_format`, '"header_key_format" is not supported yet'],
        [
          `${HCM}.http_protocol_options.accept_http_10`,
          "HTTP/1.0 requests are always accepted here; false is not supported yet",
        ],
        [`${HCM}.http2_protocol_options.hpack_table_size`, '"hpack_table_size" is not supported yet'],
        [`${HCM}.http2_protocol_options.initial_stream_window_size`, "expected an integer 65535-2147483647, got 100"],
      ],
    );
  });
});
