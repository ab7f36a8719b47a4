// Egress under outboundTrafficPolicy REGISTRY_ONLY, through a `trellis run` client and its proxy variables (curl):
// a host no service or ServiceEntry declares is refused with 502, the flag NR and the host in x-trellis-details and
// in the sidecar's access log; a ServiceEntry for *.example.org (STATIC, its endpoint the test's server on
// 127.0.0.1) lets api.example.org through, by plain HTTP and by CONNECT.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { RunMesh, until } from "./support/run-mesh.ts";

function curl(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("curl", args, { env, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
    );
  });
}

describe("REGISTRY_ONLY egress through trellis run", () => {
  const mesh = new RunMesh();
  let server: http.Server;
  let port: number;
  let env: Record<string, string>;
  let accessLog: string;

  before(async () => {
    server = http.createServer((req, res) => res.end(`outside: ${req.headers.host} ${req.url}\n`));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    await mesh.start((dir) => {
      accessLog = join(dir, "access.json");
      return `accessLogFile: ${accessLog}\naccessLogEncoding: JSON\noutboundTrafficPolicy: {mode: REGISTRY_ONLY}\n`;
    });
    await mesh.apply(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: example-org, namespace: default}
spec:
  hosts: ["*.example.org"]
  location: MESH_EXTERNAL
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`);
    ({ env } = await mesh.waitingClient("egress-caller"));
  });

  after(async () => {
    server?.close();
    await mesh.stop();
  });

  test("a host nothing declares: 502, flag NR and the host in x-trellis-details and in the access log", async () => {
    const r = await curl(["-s", "-i", `http://blocked.example.net:${port}/nope`], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^HTTP\/1\.1 502 /);
    assert.match(r.stdout, /\r\nx-trellis-response-flags: NR\r\n/i);
    assert.match(
      r.stdout,
      new RegExp(`\\r\\nx-trellis-details: registry_only:blocked\\.example\\.net:${port}\\r\\n`, "i"),
    );
    assert.doesNotMatch(r.stdout, /outside:/);
    const line = await until("the refusal in the access log", () => {
      try {
        return readFileSync(accessLog, "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((j) => j.path === "/nope");
      } catch {
        return undefined;
      }
    });
    assert.equal(line.response_code, 502);
    assert.equal(line.response_flags, "NR");
    assert.equal(line.response_code_details, `registry_only:blocked.example.net:${port}`);
    assert.equal(line.route_name, "block_all");
  });

  test("a CONNECT to a host nothing declares: 502 with the same flag and details", async () => {
    const r = await curl(["-s", "-p", "-i", `http://blocked.example.net:${port}/tunnel`], env);
    assert.match(r.stdout, /^HTTP\/1\.1 502 /);
    assert.match(r.stdout, /\r\nx-trellis-response-flags: NR\r\n/i);
    assert.match(r.stdout, /\r\nx-trellis-details: registry_only:blocked\.example\.net:\d+\r\n/i);
    assert.doesNotMatch(r.stdout, /outside:/);
  });

  test("a ServiceEntry for *.example.org lets api.example.org through (HTTP, and a CONNECT tunnel)", async () => {
    const plain = await curl(["-s", "--fail", `http://api.example.org:${port}/in`], env);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, `outside: api.example.org:${port} /in\n`);
    const tunnelled = await curl(["-s", "-p", "--fail", `http://eu.api.example.org:${port}/tunnel`], env);
    assert.equal(tunnelled.code, 0, tunnelled.stderr);
    assert.equal(tunnelled.stdout, `outside: eu.api.example.org:${port} /tunnel\n`);
  });
});
