// A server-first protocol (an SMTP-like server that greets before the client says anything) on a port declared TCP
// works through the mesh at once: a `trellis run` client reads the greeting through --outbound and through a CONNECT
// tunnel without having sent a byte — no protocol detection waits for the client's first bytes on a declared port.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { RunMesh, until } from "./support/run-mesh.ts";

/** Greets first; answers "250 ok" to each line; "QUIT" ends it all. */
const SMTP_LIKE = `
const net = require("node:net");
const server = net.createServer((s) => {
  s.write("220 mail.test ready\\r\\n");
  s.on("data", (d) => {
    if (String(d).startsWith("QUIT")) { s.end("221 bye\\r\\n", () => process.exit(0)); return; }
    s.write("250 ok\\r\\n");
  });
});
server.listen(Number(process.env.PORT), "127.0.0.1");
`;

/** Connects to `port`, optionally writes `first`, and resolves with the first chunk read (never writing before it). */
function firstChunk(port: number, first?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => {
      if (first !== undefined) s.write(first);
    });
    let text = "";
    // A greeting that does not come is a failure, not a hang.
    s.setTimeout(10_000, () => s.destroy(new Error(`no greeting within 10 s; read ${JSON.stringify(text)}`)));
    s.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      if (first === undefined || text.includes("\r\n\r\n")) {
        if (first === undefined || text.split("\r\n\r\n")[1]!.length > 0) {
          resolve(first === undefined ? text : text.split("\r\n\r\n")[1]!);
          s.destroy();
        }
      }
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error(`closed; read ${JSON.stringify(text)}`)));
  });
}

describe("a server-first protocol on a port declared TCP, through trellis run", () => {
  const mesh = new RunMesh();
  let env: Record<string, string>;

  before(async () => {
    await mesh.start();
    const done = mesh.run(["--service", "mail", "--port", "2525/tcp", "--", "node", "-e", SMTP_LIKE]);
    const instance = await until("the mail instance", () => mesh.instancesOf("mail")[0]);
    await until("mail behind its sidecar", () => firstChunk(instance.ports[0]!.sidecarPort!).catch(() => undefined));
    mesh.onStop(async () => {
      const s = net.connect(instance.ports[0]!.sidecarPort!, "127.0.0.1", () => s.write("QUIT\r\n"));
      s.on("error", () => {});
      await done;
    });
    ({ env } = await mesh.waitingClient("sender", ["--outbound", "mail:2525"]));
  });

  after(async () => {
    await mesh.stop();
  });

  test("through --outbound: the greeting arrives before the client writes anything", async () => {
    const port = Number(env.TRELLIS_OUTBOUND_MAIL_2525);
    assert.equal(await firstChunk(port), "220 mail.test ready\r\n");
  });

  test("through a CONNECT tunnel (HTTPS_PROXY): 200, then the greeting, the client silent", async () => {
    const outbound = Number(new URL(env.HTTPS_PROXY!).port);
    const greeting = await firstChunk(outbound, "CONNECT mail:2525 HTTP/1.1\r\nhost: mail:2525\r\n\r\n");
    assert.equal(greeting, "220 mail.test ready\r\n");
  });
});
