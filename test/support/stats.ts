// Reading a real sidecar's stats the way a scraper does: GET /stats/prometheus on its admin port, parsed into
// series. Tests compare two snapshots (before and after driving a condition) and name the family they checked, so
// a test file can say which exported stats it covered.

import http from "node:http";

export interface Series {
  family: string;
  labels: Record<string, string>;
  value: number;
}

export interface Snapshot {
  series: Series[];
  /** Every family the admin printed (# TYPE lines), with its type. */
  types: Map<string, string>;
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

/** One scrape of /stats/prometheus. Histograms appear as their `_count` series (and `_sum`, `_bucket`). */
export async function scrape(adminPort: number): Promise<Snapshot> {
  const text = await get(adminPort, "/stats/prometheus");
  const series: Series[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable stats line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3] !== undefined) {
      for (const [, k, v] of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    }
    series.push({ family: m[1]!, labels, value: Number(m[4]) });
  }
  return { series, types };
}

/** The sum of the series of `family` whose labels include `labels` (0 when there is none). */
export function valueOf(s: Snapshot, family: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const x of s.series) {
    if (x.family !== family) continue;
    if (Object.entries(labels).every(([k, v]) => x.labels[k] === v)) sum += x.value;
  }
  return sum;
}
