// localityLbSetting for one proxy (locality.ts) and applied to locality groups (locality-lb.ts), case by case as
// Istio's loadbalancer.go and its tests have them.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LocalityLoadBalancerSetting } from "../../api/resources/types.ts";
import { applyLocalityPlan, type LocalityGroup } from "./locality-lb.ts";
import {
  labelPriorities,
  localityLbPlan,
  localityMatches,
  withTopologyLabels,
  type LocalityLbPlan,
  type ProxyTopology,
} from "./locality.ts";
import { Problems } from "./problems.ts";
import type { EffectivePolicy } from "./traffic-policy.ts";

function setting(s: Partial<LocalityLoadBalancerSetting>): LocalityLoadBalancerSetting {
  return { distribute: [], failover: [], failoverPriority: [], ...s };
}

function policy(s: Partial<LocalityLoadBalancerSetting> | undefined, outlier: boolean): EffectivePolicy {
  return {
    ...(s !== undefined ? { loadBalancer: { localityLbSetting: setting(s) } } : {}),
    ...(outlier ? { outlierDetection: { consecutive5xxErrors: 3 } } : {}),
  };
}

const ME: ProxyTopology = {
  locality: "us-east/1a/r1",
  labels: withTopologyLabels({ app: "productpage", version: "v1" }, "us-east/1a/r1"),
};

/** A group per "locality:label=value,label=value" spec, one endpoint of weight 1 per spec (same locality: merged). */
function groups(...specs: string[]): LocalityGroup[] {
  const byLocality = new Map<string, LocalityGroup>();
  specs.forEach((spec, i) => {
    const [locality = "", labelText = ""] = spec.split(":");
    const labels = Object.fromEntries(labelText === "" ? [] : labelText.split(",").map((kv) => kv.split("=")));
    let g = byLocality.get(locality);
    if (g === undefined) byLocality.set(locality, (g = { locality, entries: [], weight: 0, priority: 0 }));
    g.entries.push({ json: { id: i }, labels: withTopologyLabels(labels, locality), weight: 1 });
    g.weight += 1;
  });
  return [...byLocality.values()];
}

/** "locality w=weight p=priority [ids]" per group. */
function summary(out: LocalityGroup[]): string[] {
  return out.map((g) => `${g.locality} w=${g.weight} p=${g.priority} [${g.entries.map((e) => e.json.id).join(",")}]`);
}

function plan(
  s: Partial<LocalityLoadBalancerSetting> | undefined,
  outlier = true,
  me = ME,
): LocalityLbPlan | undefined {
  return localityLbPlan(policy(s, outlier), me, "DestinationRule default/r", new Problems());
}

describe("localityMatches (Istio's LocalityMatch)", () => {
  test("wildcards and missing parts", () => {
    assert.ok(localityMatches("us-east/1a/r1", "us-east/1a/r1"));
    assert.ok(localityMatches("us-east/1a/r1", "us-east/*"));
    assert.ok(localityMatches("us-east/1a/r1", "us-east"), "a missing zone matches any");
    assert.ok(localityMatches("us-east/1a/r1", "us-east/1a"));
    assert.ok(localityMatches("us-east/1a/r1", "*"));
    assert.ok(!localityMatches("us-east/1a/r1", "us-east/1b/*"));
    assert.ok(!localityMatches("us-east/1a/r1", "eu-west/*"));
    assert.ok(localityMatches(undefined, "*"), "no locality matches only *");
    assert.ok(!localityMatches(undefined, "us-east/*"));
    assert.ok(!localityMatches("", "us-east"));
  });
});

describe("localityLbPlan: what applies, as Istio decides it", () => {
  test("distribute applies without outlier detection; the first `from` that matches the proxy", () => {
    const p = plan(
      {
        distribute: [
          { from: "eu-west/*", to: { "eu-west/*": 100 } },
          { from: "us-east/*", to: { "us-east/*": 70, "eu-west/*": 30 } },
          { from: "*", to: { "*": 100 } },
        ],
      },
      false,
    );
    assert.deepEqual(p, {
      weighted: true,
      distribute: [
        ["us-east/*", 70],
        ["eu-west/*", 30],
      ],
    });
    // No rule for the proxy: the cluster is still locality-weighted (plain weights), as in Istio.
    assert.deepEqual(plan({ distribute: [{ from: "eu-west/*", to: { "eu-west/*": 100 } }] }, false), {
      weighted: true,
    });
  });

  test("failover and failoverPriority need outlier detection; disabled means nothing", () => {
    const problems = new Problems();
    const p = localityLbPlan(
      policy({ failoverPriority: ["version"] }, false),
      ME,
      "DestinationRule default/r",
      problems,
    );
    assert.equal(p, undefined);
    assert.deepEqual(problems.list, [
      "DestinationRule default/r: loadBalancer.localityLbSetting has no effect without outlierDetection (as in Istio)",
    ]);
    assert.equal(plan({ enabled: false, distribute: [{ from: "*", to: { "*": 100 } }] }), undefined);
  });

  test("with outlier detection and no setting: locality failover, not locality-weighted (Istio's default)", () => {
    const p = plan(undefined)!;
    assert.equal(p.weighted, false);
    assert.equal(p.labelPriorities, undefined);
    assert.deepEqual(
      ["us-east/1a/r1", "us-east/1a/r2", "us-east/1b", "eu-west/1a", ""].map(p.failover!),
      [0, 1, 2, 3, 3],
    );
  });

  test("failover: only the first rule from the proxy's region counts (applyLocalityFailover's break)", () => {
    const p = plan({
      failover: [
        { from: "eu-west", to: "us-east" },
        { from: "us-east", to: "eu-west" },
        { from: "us-east", to: "ap-south" },
      ],
    })!;
    assert.equal(p.weighted, true);
    assert.deepEqual(["eu-west/1a", "ap-south/1a", ""].map(p.failover!), [3, 4, 4]);
  });

  test("failoverPriority alone: label levels, no locality ranks; with failover: both", () => {
    const alone = plan({ failoverPriority: ["version", "topology.kubernetes.io/region"] })!;
    assert.deepEqual(alone.labelPriorities, {
      labels: ["version", "topology.kubernetes.io/region"],
      values: ["v1", "us-east"],
    });
    assert.equal(alone.failover, undefined);
    const both = plan({ failoverPriority: ["version"], failover: [{ from: "us-east", to: "eu-west" }] })!;
    assert.notEqual(both.failover, undefined);
    // Istio applies failoverPriority only for a proxy with labels (topology labels count).
    const bare = plan({ failoverPriority: ["version"] }, true, { locality: undefined, labels: {} })!;
    assert.equal(bare.labelPriorities, undefined);
  });

  test("distribute beside failoverPriority: distribute applies, failoverPriority is reported", () => {
    const problems = new Problems();
    const p = localityLbPlan(
      policy({ distribute: [{ from: "*", to: { "*": 100 } }], failoverPriority: ["version"] }, true),
      ME,
      "DestinationRule default/r",
      problems,
    );
    assert.deepEqual(p, { weighted: true, distribute: [["*", 100]] });
    assert.match(problems.list[0]!, /failoverPriority is ignored: distribute is set/);
  });

  test("labelPriorities: key=value overrides the proxy's value; anything else reads the proxy's", () => {
    assert.deepEqual(labelPriorities(["version=v2", "app", "missing", "a=b=c"], { app: "x", version: "v1" }), {
      labels: ["version", "app", "missing", "a"],
      values: ["v2", "x", "", ""],
    });
  });
});

describe("applyLocalityPlan (Istio's applyLocalityWeights, applyFailoverPriorities, applyLocalityFailover)", () => {
  test("distribute: a `to` weight split over the localities it takes by their weights, rounded up; the rest out", () => {
    const input = groups(
      "us-east/1a/r1",
      "us-east/1a/r1",
      "us-east/1b",
      "us-east/1b",
      "us-east/1b",
      "eu-west/1a",
      "ap-south/1a",
    );
    const out = applyLocalityPlan(input, {
      weighted: true,
      distribute: [
        ["us-east/*", 80],
        ["eu-west/*", 20],
      ],
    });
    // 80 × 2/5 = 32, 80 × 3/5 = 48.
    assert.deepEqual(summary(out), [
      "us-east/1a/r1 w=32 p=0 [0,1]",
      "us-east/1b w=48 p=0 [2,3,4]",
      "eu-west/1a w=20 p=0 [5]",
    ]);
  });

  test("distribute: a locality taken by an earlier pattern is not taken again; fractions round up", () => {
    const input = groups("us-east/1a", "us-east/1b", "us-east/1c");
    const out = applyLocalityPlan(input, {
      weighted: true,
      distribute: [
        ["us-east/1a", 50],
        ["us-east/*", 50],
      ],
    });
    assert.deepEqual(summary(out), ["us-east/1a w=50 p=0 [0]", "us-east/1b w=25 p=0 [1]", "us-east/1c w=25 p=0 [2]"]);
    const thirds = applyLocalityPlan(input, { weighted: true, distribute: [["us-east/*", 100]] });
    assert.deepEqual(
      thirds.map((g) => g.weight),
      [34, 34, 34],
    );
  });

  test("failoverPriority: all labels match → 0; first mismatch on the i-th of n → n - i; levels renumbered", () => {
    const me = labelPriorities(["net", "topology.kubernetes.io/region", "topology.kubernetes.io/zone"], {
      net: "n1",
      ...ME.labels,
    });
    const input = groups(
      "us-east/1a/r1:net=n1",
      "us-east/1a/r1:net=n2",
      "us-east/1b:net=n1",
      "eu-west/1a:net=n1",
      "us-east/1a/r1:net=n1",
    );
    const out = applyLocalityPlan(input, { weighted: true, labelPriorities: me });
    // Raw levels: [0,0] and 3 in us-east/1a/r1, 1 in us-east/1b, 2 in eu-west: contiguous already.
    assert.deepEqual(summary(out), [
      "us-east/1a/r1 w=2 p=0 [0,4]",
      "us-east/1a/r1 w=1 p=3 [1]",
      "us-east/1b w=1 p=1 [2]",
      "eu-west/1a w=1 p=2 [3]",
    ]);
    // Only mismatches on the first label: levels 0 and 3 become 0 and 1.
    const twoLevels = applyLocalityPlan(groups("us-east/1a/r1:net=n1", "us-east/1a/r1:net=n2"), {
      weighted: true,
      labelPriorities: me,
    });
    assert.deepEqual(summary(twoLevels), ["us-east/1a/r1 w=1 p=0 [0]", "us-east/1a/r1 w=1 p=1 [1]"]);
  });

  test("failoverPriority then failover: label level × 5 + locality rank, renumbered", () => {
    const p = plan({ failoverPriority: ["version=v2"], failover: [{ from: "us-east", to: "eu-west" }] })!;
    const input = groups(
      "us-east/1a/r1:version=v2",
      "us-east/1a/r1:version=v1",
      "eu-west/1a:version=v2",
      "ap-south/1a:version=v1",
    );
    assert.deepEqual(summary(applyLocalityPlan(input, p)), [
      "us-east/1a/r1 w=1 p=0 [0]", // 0 × 5 + 0
      "us-east/1a/r1 w=1 p=2 [1]", // 1 × 5 + 0
      "eu-west/1a w=1 p=1 [2]", // 0 × 5 + 3
      "ap-south/1a w=1 p=3 [3]", // 1 × 5 + 4
    ]);
  });
});
