// An endpoint's health_check_config on the wire: active health checks go to its port_value, not the traffic port,
// and present its hostname (before the check's own host and the cluster's name, as Envoy does). Time moves only
// when the test says so (ManualClock).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../src/api/clock.ts";
import { request } from "./support/clients.ts";
import { allDomains, bootstrap, httpListener } from "./support/envoy-config.ts";
import { healthCheckRound } from "./support/health-rounds.ts";
import { startProxy } from "./support/proxies.ts";
import { startEchoServer } from "./support/upstreams.ts";

describe("endpoint health_check_config", () => {
  test("checks go to port_value with the endpoint's hostname; traffic goes to the endpoint's port", async () => {
    const appPaths: string[] = [];
    const app = await startEchoServer("app", (req, res) => {
      appPaths.push(req.url ?? "");
      res.end("app");
    });
    let healthy = true;
    const hosts: string[] = [];
    const checks = await startEchoServer("checks", (req, res) => {
      hosts.push(`${req.url} ${req.headers.host}`);
      res.writeHead(healthy ? 200 : 503, { "content-length": 0 }).end();
    });
    const cluster = {
      name: "app",
      type: "STATIC",
      connect_timeout: "1s",
      // No panic routing: the one endpoint failing its checks must take it out.
      common_lb_config: { healthy_panic_threshold: { value: 0 } },
      load_assignment: {
        cluster_name: "app",
        endpoints: [
          {
            lb_endpoints: [
              {
                endpoint: {
                  address: { socket_address: { address: "127.0.0.1", port_value: app.port } },
                  health_check_config: { port_value: checks.port, hostname: "hc.example" },
                },
              },
            ],
          },
        ],
      },
      health_checks: [
        {
          timeout: "1s",
          interval: "5s",
          no_traffic_interval: "5s",
          unhealthy_threshold: 1,
          healthy_threshold: 1,
          http_health_check: { path: "/healthz", host: "cluster-level.example" },
        },
      ],
    };
    const clock = new ManualClock();
    const proxy = await startProxy(
      bootstrap([httpListener("in", allDomains([{ match: { prefix: "/" }, route: { cluster: "app" } }]))], [cluster]),
      clock,
    );
    try {
      assert.deepEqual(hosts, ["/healthz hc.example"]);
      assert.equal((await request(proxy.port(), { path: "/work" })).body, "app");
      assert.deepEqual(appPaths, ["/work"], "no health check reached the traffic port");

      healthy = false;
      await healthCheckRound(clock, proxy.proxy.cluster("app")!.healthChecker!, 1, 5_000);
      const reply = await request(proxy.port(), { path: "/work" });
      assert.equal(reply.status, 503, "the checks' port failing takes the endpoint out");
      assert.deepEqual(appPaths, ["/work"]);
    } finally {
      await proxy.close();
      await app.close();
      await checks.close();
    }
  });

  test("port_value and hostname are read; address and disable_active_health_check are refused", async () => {
    const { parseClusterLoadAssignment } = await import("../src/api/xds/parse/endpoint.ts");
    const endpoint = (hc: unknown) => ({
      cluster_name: "c",
      endpoints: [
        {
          lb_endpoints: [
            {
              endpoint: {
                address: { socket_address: { address: "10.0.0.1", port_value: 80 } },
                health_check_config: hc,
              },
            },
          ],
        },
      ],
    });
    const parsed = parseClusterLoadAssignment(endpoint({ port_value: 8081, hostname: "h" }));
    assert.deepEqual(parsed.endpoints[0]!.lbEndpoints[0]!.healthCheckConfig, { port: 8081, hostname: "h" });
    assert.throws(
      () => parseClusterLoadAssignment(endpoint({ port_value: 0, disable_active_health_check: true })),
      (err: Error) =>
        /health_check_config\.port_value: expected an integer 1-65535, got 0/.test(err.message) &&
        /health_check_config\.disable_active_health_check: "disable_active_health_check" is not supported yet/.test(
          err.message,
        ),
    );
  });
});
