// Which cluster a forwarding route sends to. Choices are built once; a pick returns one of them, so picking
// allocates nothing. Weighted picks follow Envoy: a random value in [0, total) walks the cumulative weights, so a
// weight-0 cluster is never chosen and the injected random makes the split deterministic in tests.

import type { WeightedCluster } from "../../api/xds/types.ts";
import type { FormatEnv } from "./header-edits.ts";
import { HeaderEditLevel } from "./header-edits.ts";
import type { IssueSink } from "./issues.ts";

export interface ClusterChoice {
  readonly name: string;
  /** The weighted cluster's own request_headers_to_add/remove (applied before the route's); undefined if none. */
  readonly requestEdits: HeaderEditLevel | undefined;
  /** The weighted cluster's own response_headers_to_add/remove; undefined if none. */
  readonly responseEdits: HeaderEditLevel | undefined;
}

export class ClusterPicker {
  readonly choices: readonly ClusterChoice[];
  private readonly cumulative: readonly number[];
  private readonly total: number;
  private readonly random: () => number;

  private constructor(choices: ClusterChoice[], weights: number[], random: () => number) {
    this.choices = choices;
    let sum = 0;
    this.cumulative = weights.map((w) => (sum += w));
    this.total = sum;
    this.random = random;
  }

  static single(name: string): ClusterPicker {
    return new ClusterPicker([{ name, requestEdits: undefined, responseEdits: undefined }], [1], Math.random);
  }

  static weighted(
    clusters: readonly WeightedCluster[],
    random: () => number,
    env: FormatEnv,
    issues: IssueSink,
    at: string,
  ): ClusterPicker {
    const choices = clusters.map((c, i) => ({
      name: c.name,
      requestEdits: HeaderEditLevel.compile(c.requestHeadersToAdd, c.requestHeadersToRemove, env, issues, {
        add: `${at}.clusters[${i}].request_headers_to_add`,
        remove: `${at}.clusters[${i}].request_headers_to_remove`,
      }),
      responseEdits: HeaderEditLevel.compile(c.responseHeadersToAdd, c.responseHeadersToRemove, env, issues, {
        add: `${at}.clusters[${i}].response_headers_to_add`,
        remove: `${at}.clusters[${i}].response_headers_to_remove`,
      }),
    }));
    const weights = clusters.map((c) => c.weight);
    if (clusters.length === 0) issues.add(`${at}.clusters`, "at least one weighted cluster is required");
    else if (weights.some((w) => !Number.isFinite(w) || w < 0)) issues.add(`${at}.clusters`, "weights must be >= 0");
    else if (weights.reduce((a, b) => a + b, 0) <= 0)
      issues.add(`${at}.clusters`, "the weights must sum to more than 0");
    return new ClusterPicker(choices, weights, random);
  }

  pick(): ClusterChoice {
    const choices = this.choices;
    if (choices.length === 1) return choices[0]!;
    const r = this.random() * this.total;
    const cum = this.cumulative;
    for (let i = 0; i < cum.length; i++) if (r < cum[i]!) return choices[i]!;
    return choices[choices.length - 1]!;
  }
}
