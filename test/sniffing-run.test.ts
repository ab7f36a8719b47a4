// `trellis run --port P/auto` and a port named without a protocol: the port is declared to be sniffed (AUTO, Istio's
// naming rules), registered so, and the sidecar in front of CMD tells HTTP from other bytes per connection — through
// the real CLI (`main()`) against a real control plane in this process.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { parsePort, RunUsageError } from "../src/run/ports.ts";
import { runCli } from "./support/cli.ts";

test("--port: /auto and a name naming no protocol are sniffed (AUTO); a bare port stays HTTP", () => {
  const of = (spec: string) => {
    const p = parsePort(spec);
    return [p.name, p.protocol];
  };
  assert.deepEqual(of("9000/auto"), ["auto-9000", "AUTO"]);
  assert.deepEqual(of("db=9000/AUTO"), ["db", "AUTO"]);
  assert.deepEqual(of("web=8080"), ["web", "AUTO"]);
  assert.deepEqual(of("auto-x=8080"), ["auto-x", "AUTO"]);
  assert.deepEqual(of("http-web=8080"), ["http-web", "HTTP"]);
  assert.deepEqual(of("tcp-db=5432"), ["tcp-db", "TCP"]);
  assert.deepEqual(of("8080"), ["http-8080", "HTTP"]);
  assert.deepEqual(of("web=8080/tcp"), ["web", "TCP"]);
  assert.throws(
    () => parsePort("8080/sniff"),
    (e: unknown) => {
      assert.ok(e instanceof RunUsageError);
      assert.match(
        e.message,
        /--port "8080\/sniff": the protocol must be one of http, http2, grpc, tcp, tls, https, auto/,
      );
      return true;
    },
  );
});

/** On $PORT: "GET /exit" answers and exits, another request line answers "hello", anything else is echoed. */
const MIXED = `
const net = require("node:net");
net.createServer((s) => {
  s.on("error", () => {});
  s.once("data", (d) => {
    const text = d.toString("latin1");
    if (/^GET \\S+ HTTP\\/1\\.1\\r\\n/.test(text)) {
      const exit = text.startsWith("GET /exit ");
      s.end("HTTP/1.1 200 OK\\r\\ncontent-length: 5\\r\\nconnection: close\\r\\n\\r\\nhello", () => {
        if (exit) process.exit(0);
      });
    } else {
      s.write(d);
      s.pipe(s);
    }
  });
}).listen(Number(process.env.PORT), "127.0.0.1");
`;

function exchange(port: number, data: Buffer, until: (got: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, "127.0.0.1", () => s.write(data));
    s.setTimeout(10_000, () => s.destroy(new Error("no complete answer within 10 s")));
    const done = (): void => {
      const got = Buffer.concat(chunks);
      if (until(got)) {
        resolve(got);
        s.destroy();
      }
    };
    s.on("data", (d: Buffer) => {
      chunks.push(d);
      done();
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error(`closed after ${Buffer.concat(chunks).toString("latin1")}`)));
  });
}

describe("trellis run --port P/auto", () => {
  let dataDir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "trellis-sniff-run-"));
    store = await EmbeddedStore.open({ dataDir });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
  });

  after(async () => {
    await cp.stop();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("registered AUTO; its sidecar passes HTTP through the connection manager and other bytes unchanged", async () => {
    const running = runCli(
      [
        "run",
        "--service",
        "mixed",
        "--port",
        "9000/auto",
        "--xds",
        `127.0.0.1:${cp.xdsPort}`,
        "--",
        "node",
        "-e",
        MIXED,
      ],
      { TRELLIS_CONTROL: `http://127.0.0.1:${cp.apiPort}` },
    );
    let instance = cp.registry.list().find((i) => i.service === "mixed");
    for (const deadline = Date.now() + 15_000; instance === undefined && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 25));
      instance = cp.registry.list().find((i) => i.service === "mixed");
    }
    assert.ok(instance !== undefined, "registered");
    const [port] = instance.ports;
    assert.deepEqual([port!.name, port!.protocol, port!.servicePort], ["auto-9000", "AUTO", 9000]);
    const sidecar = port!.sidecarPort!;

    const isHttp = (got: Buffer): boolean => got.toString("latin1").endsWith("hello");
    // The sidecar binds its inbound listener once configured: asked again until it answers.
    const request = Buffer.from("GET /x HTTP/1.1\r\nhost: mixed\r\n\r\n");
    let reply: string | undefined;
    for (const deadline = Date.now() + 15_000; reply === undefined && Date.now() < deadline;) {
      reply = await exchange(sidecar, request, isHttp).then(
        (b) => b.toString(),
        () => new Promise<undefined>((r) => setTimeout(() => r(undefined), 50)),
      );
    }
    assert.ok(reply !== undefined, "no answer through the sidecar within 15 s");
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    // Through the connection manager: the sidecar's own response headers, not CMD's bytes as they were.
    assert.doesNotMatch(reply, /\r\nconnection: close\r\n/i, reply);
    assert.match(reply, /\r\nx-envoy-upstream-service-time: \d+\r\n/i, reply);
    const raw = Buffer.concat([Buffer.from([0, 1, 2, 0xff]), Buffer.from(" not a request\r\n")]);
    const echoed = await exchange(sidecar, raw, (got) => got.length >= raw.length);
    assert.ok(echoed.equals(raw), echoed.toString("latin1"));

    await exchange(sidecar, Buffer.from("GET /exit HTTP/1.1\r\nhost: mixed\r\n\r\n"), isHttp);
    const result = await running;
    assert.equal(result.code, 0, result.stderr);
  });
});
