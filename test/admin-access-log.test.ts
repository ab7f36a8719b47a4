// The admin server's access log (bootstrap `admin.access_log` and `admin.access_log_path`): accepted by Envoy's
// examples nearly everywhere, it was accepted and ignored; now each request the admin server answers is a line, and
// a bad entry is refused with its field path, in the same pass as every other problem of the file.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../src/api/errors.ts";
import { loadBootstrap } from "../src/proxy/config/load-bootstrap.ts";
import { Proxy } from "../src/proxy/server.ts";

const FILE_LOG = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";

test("admin.access_log_path (Envoy's default format) and admin.access_log (JSON) get one line per admin request", async () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-admin-log-"));
  try {
    const text = `
admin:
  access_log_path: ${join(dir, "admin.log")}
  access_log:
  - name: envoy.access_loggers.file
    typed_config:
      "@type": ${FILE_LOG}
      path: ${join(dir, "admin.json")}
      log_format: { json_format: { method: "%REQ(:METHOD)%", path: "%REQ(:PATH)%", code: "%RESPONSE_CODE%" } }
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources: { listeners: [], clusters: [] }
`;
    const proxy = new Proxy(loadBootstrap(text, "admin.yaml"), { log: () => {} });
    await proxy.start();
    const ready = await fetch(`http://127.0.0.1:${proxy.adminPort}/ready`, { headers: { "user-agent": "probe/1" } });
    assert.equal(ready.status, 200);
    await ready.text();
    const missing = await fetch(`http://127.0.0.1:${proxy.adminPort}/nope?x=1`);
    await missing.text();
    await proxy.shutdown(0);
    const lines = readFileSync(join(dir, "admin.log"), "utf8").trimEnd().split("\n");
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(
      lines[0]!,
      /^\[[^\]]+\] "GET \/ready HTTP\/1\.1" 200 - 0 5 \d+ - "-" "probe\/1" "-" "127\.0\.0\.1:\d+" "-"$/,
    );
    assert.match(lines[1]!, /"GET \/nope\?x=1 HTTP\/1\.1" 404 /);
    const json = readFileSync(join(dir, "admin.json"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(json, [
      { method: "GET", path: "/ready", code: 200 },
      { method: "GET", path: "/nope?x=1", code: 404 },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a bad admin.access_log entry is refused with its path, together with the file's other problems", () => {
  const text = `
admin:
  access_log:
  - name: envoy.access_loggers.file
    typed_config: { "@type": ${FILE_LOG} }
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners: []
  clusters: [{ name: c, type: NOPE }]
`;
  assert.throws(
    () => loadBootstrap(text, "admin.yaml"),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const paths = err.issues.map((i) => i.path);
      assert.ok(paths.includes("admin.access_log[0].typed_config.path"), JSON.stringify(err.issues));
      assert.ok(
        paths.some((p) => p.startsWith("static_resources.clusters[0]")),
        JSON.stringify(err.issues),
      );
      return true;
    },
  );
});
