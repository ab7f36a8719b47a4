// %BYTES_SENT% and %BYTES_RECEIVED% count body bytes only, as Envoy's do: not the response head, not the chunked
// framing, not HTTP/2 frame headers. Over HTTP/1.1 (chunked both ways) and HTTP/2.

import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rawExchange, h2request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "./support/envoy-config.ts";
import { startProxy } from "./support/proxies.ts";
import { startEchoServer } from "./support/upstreams.ts";

const PIECES = ["hello ", "chunked ", "world"];
const RESPONSE_BODY = PIECES.join("");

async function withLoggedProxy(run: (port: number) => Promise<void>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "trellis-bytes-"));
  const path = join(dir, "access.log");
  // The upstream answers in three chunks without a length: chunked to an HTTP/1.1 client.
  const upstream = await startEchoServer("app", (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    for (const p of PIECES) res.write(p);
    res.end();
  });
  const proxy = await startProxy(
    bootstrap(
      [
        httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]), {
          access_log: [
            {
              name: "envoy.access_loggers.file",
              typed_config: {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                path,
                log_format: { text_format_source: { inline_string: "%BYTES_RECEIVED% %BYTES_SENT%\n" } },
              },
            },
          ],
        }),
      ],
      [staticCluster("app", [upstream.port])],
    ),
  );
  try {
    await run(proxy.port());
    await proxy.close();
    return readFileSync(path, "utf8").trim().split("\n");
  } finally {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("HTTP/1.1 chunked both ways: %BYTES_RECEIVED% is the request body, %BYTES_SENT% the response body", async () => {
  const requestBody = "0123456789abcdefghij"; // 20 bytes in two chunks
  const lines = await withLoggedProxy(async (port) => {
    const raw = await rawExchange(
      port,
      "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
        "a\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
    );
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.match(raw, /transfer-encoding: chunked/i);
  });
  assert.deepEqual(lines, [`${requestBody.length} ${RESPONSE_BODY.length}`]);
});

test("HTTP/1.1 a bodyless GET counts 0 received and the response body sent", async () => {
  const lines = await withLoggedProxy(async (port) => {
    await rawExchange(port, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  });
  assert.deepEqual(lines, [`0 ${RESPONSE_BODY.length}`]);
});

test("HTTP/2: frame headers and HEADERS are not counted, DATA payloads are", async () => {
  const lines = await withLoggedProxy(async (port) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const r = await h2request(session, { ":method": "POST", ":path": "/x" }, "abcdefg");
      assert.equal(r.status, 200);
      assert.equal(r.body, RESPONSE_BODY);
    } finally {
      session.close();
    }
  });
  assert.deepEqual(lines, [`7 ${RESPONSE_BODY.length}`]);
});
