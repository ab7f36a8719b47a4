// Golden files: testdata/<case>.yaml (Gateway API resources) → testdata/<case>.golden.yaml (the Istio Gateways and
// VirtualServices they become, and every status). UPDATE_GOLDEN=1 rewrites them; review the diff like code. Every
// converted resource must also load as a valid Istio resource, and the conversion is pure.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { loadResources, validateResources } from "../../api/resources/load.ts";
import { toIstioObject } from "../../api/resources/serialize.ts";
import { convertGatewayApi, intersect } from "./convert.ts";
import { World } from "../translate/world-index.ts";

const TESTDATA = join(import.meta.dirname, "testdata");
const cases = readdirSync(TESTDATA)
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".golden.yaml"))
  .sort();
// The services and secrets these cases' mesh has: all but those named missing-*.
const hasService = (host: string): boolean => !host.startsWith("missing-");
const hasSecret = (_namespace: string, name: string): boolean => !name.startsWith("missing-");

describe("Gateway API conversion goldens", () => {
  for (const file of cases) {
    const name = file.slice(0, -".yaml".length);
    test(name, () => {
      const { resources } = loadResources(readFileSync(join(TESTDATA, file), "utf8"), file);
      const converted = convertGatewayApi(resources, { hasService, hasSecret });
      const golden = {
        gateways: converted.gateways.map(toIstioObject),
        virtualServices: converted.virtualServices.map(toIstioObject),
        status: Object.fromEntries(converted.status),
      };
      const goldenPath = join(TESTDATA, `${name}.golden.yaml`);
      const text = stringify(golden, { lineWidth: 0 });
      if (process.env.UPDATE_GOLDEN === "1" || !existsSync(goldenPath)) writeFileSync(goldenPath, text);
      assert.deepEqual(golden, parseYaml(readFileSync(goldenPath, "utf8")), `${name}: differs from the golden file`);
      // What the conversion makes is valid Istio configuration, as `trellis apply` would accept it.
      const made = [...golden.gateways, ...golden.virtualServices];
      assert.equal(validateResources(made, name).resources.length, made.length);
      assert.deepEqual(convertGatewayApi(resources, { hasService, hasSecret }), converted);
    });
  }
});

describe("Gateway API conversion", () => {
  test("hostnames intersect as the Gateway API says", () => {
    assert.deepEqual(intersect(undefined, []), ["*"]);
    assert.deepEqual(intersect("a.example.com", []), ["a.example.com"]);
    assert.deepEqual(intersect("*.example.com", ["a.example.com", "a.b.example.com", "example.com", "x.org"]), [
      "a.example.com",
      "a.b.example.com",
    ]);
    assert.deepEqual(intersect("a.example.com", ["*.example.com", "*.org"]), ["a.example.com"]);
    assert.deepEqual(intersect("*.example.com", ["*.a.example.com"]), ["*.a.example.com"]);
  });

  test("the world translation reads has the converted Gateways and VirtualServices, not the sidecars' routes", () => {
    const { resources } = loadResources(readFileSync(join(TESTDATA, "weighted.yaml"), "utf8"), "weighted.yaml");
    const world = World.fromResources(resources);
    // Bound to a gateway only: a sidecar's routes for the backend are not changed by the HTTPRoute.
    assert.deepEqual(world.virtualServicesFor("shop-v1.shop.svc.cluster.local", "shop"), []);
    const converted = convertGatewayApi(resources);
    assert.equal(converted.gateways.length, 1);
    assert.deepEqual(converted.gateways[0]!.spec.selector, { "gateway.networking.k8s.io/gateway-name": "edge" });
  });
});
