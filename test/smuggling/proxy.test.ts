// The smuggling corpus end to end: each case's bytes go through a real sidecar to a real upstream. The upstream must
// receive exactly the requests the strict codec accepts before any refusal — never a smuggled one — and the client
// must get one answer per accepted request, then the refusal's status.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startProxy, type RunningProxy } from "../support/proxies.ts";
import { startEchoServer, type Upstream } from "../support/upstreams.ts";
import { rawExchange, statusLines } from "../support/clients.ts";
import { allDomains, bootstrap, httpListener, staticCluster } from "../support/envoy-config.ts";
import { smugglingCases } from "./corpus.ts";
import { drive } from "./drive.ts";

describe("request smuggling corpus through a real sidecar", () => {
  let upstream: Upstream;
  let proxy: RunningProxy;
  before(async () => {
    upstream = await startEchoServer("app", (_req, res, body) => {
      res.writeHead(200, { "content-length": 2 + body.length });
      res.end("ok" + body.toString("latin1"));
    });
    proxy = await startProxy(
      bootstrap(
        [httpListener("http", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))],
        [staticCluster("app", [upstream.port])],
      ),
    );
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  for (const c of smugglingCases) {
    const verdict = drive([Buffer.from(c.raw, "latin1")]);
    // Tunnels (CONNECT, Upgrade) carry bytes that are not HTTP; they are covered by the WebSocket tests. An
    // asterisk-form OPTIONS matches no route (404 NR, as in Envoy), so it is never forwarded.
    if (
      verdict.tunnel > 0 ||
      verdict.requests.some((r) => r.head.method === "CONNECT" || r.head.upgrade !== undefined || r.head.path === "*")
    )
      continue;
    test(`${c.expect}: ${c.name}`, async () => {
      const before = upstream.received.length;
      const raw = await rawExchange(proxy.port(), Buffer.from(c.raw, "latin1"));
      const forwarded = upstream.received.slice(before);
      const accepted = verdict.requests.length;
      assert.equal(forwarded.length, accepted, `upstream received ${forwarded.length}, codec accepts ${accepted}`);
      for (let i = 0; i < accepted; i++) {
        assert.equal(forwarded[i]!.body, verdict.requests[i]!.body.toString("utf8"), `body of request ${i}`);
        assert.doesNotMatch(forwarded[i]!.url, /SMUGGLED/i);
      }
      const statuses = statusLines(raw).filter((s) => s >= 200); // 100 Continue is interim
      if (c.expect === "reject") {
        assert.ok(verdict.error, "the codec refuses a reject case");
        assert.deepEqual(statuses, [...Array(accepted).fill(200), c.status ?? verdict.error!.status]);
        assert.match(raw, /x-trellis-response-flags: DPE/);
      } else {
        assert.equal(verdict.error, undefined);
        assert.deepEqual(statuses, Array(accepted).fill(200));
      }
    });
  }
});
