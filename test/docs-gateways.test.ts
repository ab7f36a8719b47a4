// docs/gateways.md's worked examples stay true: their `sh` blocks run as written (bash, `set -euo pipefail`,
// `trellis` on PATH), with the page's fixed ports swapped for free ones (the control plane's are its defaults on the
// page: given to `trellis up` explicitly here, and $TRELLIS_XDS set to match), and print what the page says.
// - "A worked example (paste it)": the control plane, two services, an Istio Gateway and two VirtualServices, a
//   trellis gateway routing by Host over HTTP; then a certificate made with openssl, `trellis create secret tls`, an
//   HTTPS server terminating TLS (curl --resolve --cacert) and the HTTP server redirecting to it.
// - "Kubernetes Gateway API", "A worked example": a Gateway and an HTTPRoute (shop.yaml, the page's yaml block)
//   splitting 90/10 between two services, run by a trellis gateway; the route's and the Gateway's status.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { runCli } from "./support/cli.ts";
import { blocks, runPageScript, section } from "./support/doc-page.ts";
import { freePorts } from "./support/etcd.ts";

const PAGE = readFileSync(fileURLToPath(new URL("../docs/gateways.md", import.meta.url)), "utf8");

interface Condition {
  type: string;
  status: string;
  reason: string;
}
interface Status {
  conditions?: Condition[];
  parents?: { controllerName: string; conditions: Condition[] }[];
  listeners?: { name: string; attachedRoutes: number }[];
}
const conditions = (list: Condition[]): string[] => list.map((c) => `${c.type}=${c.status}/${c.reason}`).sort();

/** Replaces each of `ports` (whole numbers only) in `text` by a free port; returns the text and the map. */
async function swapPorts(text: string, ports: number[]): Promise<{ text: string; port: Map<number, number> }> {
  const free = await freePorts(ports.length);
  const port = new Map(ports.map((p, i) => [p, free[i]!]));
  const swapped = text.replace(new RegExp(`\\b(${ports.join("|")})\\b`, "g"), (p) => String(port.get(Number(p))));
  return { text: swapped, port };
}

test(
  "docs/gateways.md, A worked example: routing by Host over HTTP, a 404 for another host; HTTPS with a secret of one's own, HTTP redirected to it",
  { timeout: 240_000 },
  async () => {
    const example = blocks(section(PAGE, "## A worked example (paste it)"), "sh");
    assert.equal(example.length, 2, "the HTTP block and the HTTPS block");
    const xds = (await freePorts(1))[0]!;
    const data = mkdtempSync(join(tmpdir(), "trellis-docs-gateways-"));
    const { text, port } = await swapPorts(example.join("\n"), [15014, 8088, 8443]);
    assert.match(text, /trellis up --data-dir \/tmp\/trellis-gw /, "the page starts its own control plane");
    const script = text
      .replace(
        "trellis up --data-dir /tmp/trellis-gw ",
        `trellis up --data-dir ${data} --xds-port ${xds} --api-port ${port.get(15014)} `,
      )
      .replaceAll("/tmp/trellis-gw", data);
    const r = await runPageScript(script, { env: { TRELLIS_XDS: `127.0.0.1:${xds}` }, timeoutMs: 200_000 });
    rmSync(data, { recursive: true, force: true });
    assert.equal(r.code, 0, r.context);
    const lines = r.stdout.split("\n");
    // HTTP by Host: web's and api's own replies, then the 404 of a host no VirtualService routes.
    assert.ok(lines.includes("web"), r.context);
    assert.ok(lines.includes("api"), r.context);
    assert.ok(lines.includes("404"), r.context);
    const http = port.get(8088)!;
    const https = port.get(8443)!;
    assert.match(
      r.stdout,
      new RegExp(
        `^ingress\\s+default\\s+127\\.0\\.0\\.1\\s+http:80→app:${http}/HTTP,https:443→app:${https}/HTTPS\\s`,
        "m",
      ),
      r.context,
    );
    assert.match(
      r.stdout,
      /^router~127\.0\.0\.1~ingress-\w+\.default~default\.svc\.cluster\.local\s+SYNCED\s+SYNCED\s+SYNCED\s+SYNCED/m,
      r.context,
    );
    assert.match(r.stdout, /web\.example\.com/, "proxy-config routes shows the gateway's virtual hosts");
    // HTTPS: the secret stored and listed (never its key), the gateway terminating TLS with it, plain HTTP redirected.
    assert.match(
      r.stdout,
      /^secret\/web-cert \(default\) created: kubernetes\.io\/tls, hosts web\.example\.com/m,
      r.context,
    );
    assert.match(r.stdout, /^default\s+web-cert\s+kubernetes\.io\/tls\s+web\.example\.com\s+\d{4}-/m, r.context);
    assert.doesNotMatch(r.stdout, /PRIVATE KEY/);
    assert.equal(lines.filter((l) => l === "web").length, 2, `web over HTTP, then over HTTPS\n${r.context}`);
    assert.ok(lines.includes("301 https://web.example.com/"), r.context);
  },
);

test(
  "docs/gateways.md, Gateway API worked example: shop.yaml applied, a trellis gateway splits /shop 90/10 between shop-v1 and shop-v2; status Accepted with one attached route",
  { timeout: 240_000 },
  async () => {
    const gatewayApi = section(PAGE, "## Kubernetes Gateway API");
    const example = section(gatewayApi, "### A worked example");
    const yaml = blocks(example, "yaml");
    assert.equal(yaml.length, 1);
    assert.match(yaml[0]!, /^# shop\.yaml\n/, "the yaml block is the file shop.yaml");
    const [xds, api, listen] = await freePorts(3);
    // 8080 is both the Gateway's listener port and the services' port on the page: one free port for both.
    const swap = (t: string): string => t.replace(/\b8080\b/g, String(listen));
    const script = [
      `trellis up --data-dir "$(mktemp -d)" --xds-port ${xds} --api-port ${api} &`,
      `until curl -sf http://127.0.0.1:${api}/ready >/dev/null; do sleep 0.2; done`,
      swap(blocks(example, "sh").join("\n")),
    ].join("\n");
    const r = await runPageScript(script, {
      env: { TRELLIS_CONTROL: `http://127.0.0.1:${api}`, TRELLIS_XDS: `127.0.0.1:${xds}` },
      files: { "shop.yaml": swap(yaml[0]!) },
      timeoutMs: 200_000,
    });
    assert.equal(r.code, 0, r.context);
    const counts = Object.fromEntries(
      [...r.stdout.matchAll(/^\s*(\d+) (shop-v\d)$/gm)].map((m) => [m[2]!, Number(m[1])]),
    );
    assert.equal((counts["shop-v1"] ?? 0) + (counts["shop-v2"] ?? 0), 100, r.context);
    // 100 independent draws at 10 %: outside 1..25 has a probability below 1e-4.
    assert.ok(counts["shop-v2"]! >= 1 && counts["shop-v2"]! <= 25, JSON.stringify(counts));
    // `trellis get httproute shop -o yaml`, then `trellis get gtw edge -o yaml`: the last two documents printed.
    const docs = r.stdout
      .split(/^(?=apiVersion: gateway\.networking\.k8s\.io\/)/m)
      .slice(-2)
      .map((d) => parseYaml(d) as { kind: string; status: Status });
    assert.deepEqual(
      docs.map((d) => d.kind),
      ["HTTPRoute", "Gateway"],
      r.context,
    );
    const [route, gateway] = [docs[0]!, docs[1]!];
    assert.deepEqual(
      route.status.parents!.map((p) => [p.controllerName, conditions(p.conditions)]),
      [["istio.io/gateway-controller", ["Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"]]],
    );
    assert.deepEqual(conditions(gateway.status.conditions!), ["Accepted=True/Accepted", "Programmed=True/Programmed"]);
    assert.deepEqual(
      gateway.status.listeners!.map((l) => [l.name, l.attachedRoutes]),
      [["http", 1]],
    );
  },
);

test("every trellis verb in docs/gateways.md's and docs/run.md's sh blocks exists and explains itself", async () => {
  const run = readFileSync(fileURLToPath(new URL("../docs/run.md", import.meta.url)), "utf8");
  const shell = [...blocks(PAGE, "sh"), ...blocks(run, "sh")].join("\n");
  const verbs = new Set([...shell.matchAll(/(?:^|[\s|;(]|"\$\()trellis ([a-z][a-z-]*)/gm)].map((m) => m[1]!));
  for (const verb of ["up", "run", "gateway", "apply", "get", "ps", "proxy-status", "proxy-config", "create"])
    assert.ok(verbs.has(verb), `${verb} in ${[...verbs].join(" ")}`);
  for (const verb of verbs) {
    const r = await runCli([verb, "--help"]);
    assert.equal(r.code, 0, `trellis ${verb}: ${r.stderr}`);
  }
});
