// `trellis gateway`'s flags through the real CLI (`main()`): usage errors are one line naming the flag and what
// was expected, exit status 2, before anything starts; and how --port and --labels are read.

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseGatewayLabels, parseGatewayPort } from "../src/cli/gateway.ts";
import { runCli } from "./support/cli.ts";

test("usage errors: exit 2, one line naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["gateway"], /^trellis gateway: --name NAME is required\n$/],
    [["gateway", "--name", "Ingress"], /--name expects a DNS label .*"Ingress"/],
    [
      ["gateway", "--name", "in", "--port", "http=80:x"],
      /--port expects \[NAME=\]PORT\[:LISTEN\] \(e\.g\. http=80:8080\), got "http=80:x"/,
    ],
    [["gateway", "--name", "in", "--port", "70000"], /ports are 1-65535/],
    [["gateway", "--name", "in", "--port", "80", "--port", "http=80:81"], /--port 80 is given twice/],
    [["gateway", "--name", "in", "--labels", "istio"], /--labels expects k=v\[,k=v…\], got "istio"/],
    [["gateway", "--name", "in", "--xds", "nope"], /--xds expects HOST:PORT/],
    [["gateway", "--name", "in", "--admin-port", "-1"], /--admin-port expects a port 0-65535/],
  ];
  for (const [args, expected] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, expected);
    assert.equal(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
  }
});

test("--port [NAME=]P[:LISTEN]: the name gives the protocol as Istio reads names; LISTEN defaults to P", () => {
  assert.deepEqual(parseGatewayPort("80"), { name: "http-80", port: 80, listen: 80, protocol: "HTTP" });
  assert.deepEqual(parseGatewayPort("443:8443"), { name: "https", port: 443, listen: 8443, protocol: "HTTPS" });
  assert.deepEqual(parseGatewayPort("tls-sni=15443:9443").protocol, "TLS");
  assert.deepEqual(parseGatewayPort("tcp=31400").protocol, "TCP");
  assert.deepEqual(parseGatewayPort("grpc-api=9000").protocol, "GRPC");
  assert.deepEqual(parseGatewayPort("web=8080").protocol, "HTTP");
});

test("--labels: istio=ingressgateway unless an istio label is given; app=NAME; the user's labels win", () => {
  assert.deepEqual(parseGatewayLabels(undefined, "ingress"), { istio: "ingressgateway", app: "ingress" });
  assert.deepEqual(parseGatewayLabels("istio=egressgateway", "egress"), { app: "egress", istio: "egressgateway" });
  assert.deepEqual(parseGatewayLabels("app=edge,zone=a", "gw"), { istio: "ingressgateway", app: "edge", zone: "a" });
});

test("trellis gateway --help shows the flags and an example", async () => {
  const r = await runCli(["gateway", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--port <\[name=\]port\[:listen\]>/);
  assert.match(r.stdout, /trellis gateway --name ingress --port http=80:8080/);
});
