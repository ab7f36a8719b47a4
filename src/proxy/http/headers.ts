// A header list as one flat array [name0, value0, name1, value1, …]. Names are lower-cased on the way in (as Envoy
// does), so every lookup is a plain string compare. A flat array costs one allocation per message and keeps
// repeated headers and their order, which HTTP needs (set-cookie, via, x-forwarded-for).

export class Headers {
  /** Flat [name, value, …]; names lower-case. Mutate through the methods so the invariant holds. */
  readonly list: string[];

  constructor(list: string[] = []) {
    this.list = list;
  }

  /** Builds from pairs whose names may have any case (tests, configuration). */
  static of(pairs: Record<string, string | string[]>): Headers {
    const list: string[] = [];
    for (const name of Object.keys(pairs)) {
      const v = pairs[name]!;
      for (const value of Array.isArray(v) ? v : [v]) list.push(name.toLowerCase(), value);
    }
    return new Headers(list);
  }

  get size(): number {
    return this.list.length >> 1;
  }

  /** The first value of `name` (lower-case), or undefined. */
  get(name: string): string | undefined {
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) if (l[i] === name) return l[i + 1];
    return undefined;
  }

  /** All values of `name`, joined with ", " as RFC 9110 §5.3 allows for list-valued fields; undefined if absent. */
  getJoined(name: string): string | undefined {
    const l = this.list;
    let out: string | undefined;
    for (let i = 0; i < l.length; i += 2) if (l[i] === name) out = out === undefined ? l[i + 1] : out + ", " + l[i + 1];
    return out;
  }

  getAll(name: string): string[] {
    const out: string[] = [];
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) if (l[i] === name) out.push(l[i + 1]!);
    return out;
  }

  has(name: string): boolean {
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) if (l[i] === name) return true;
    return false;
  }

  add(name: string, value: string): void {
    this.list.push(name, value);
  }

  /** Replaces every value of `name` with one. */
  set(name: string, value: string): void {
    const l = this.list;
    let found = false;
    for (let i = 0; i < l.length;) {
      if (l[i] === name) {
        if (!found) {
          l[i + 1] = value;
          found = true;
          i += 2;
        } else l.splice(i, 2);
      } else i += 2;
    }
    if (!found) l.push(name, value);
  }

  /** Removes every value of `name`; returns whether any was there. */
  remove(name: string): boolean {
    const l = this.list;
    let removed = false;
    for (let i = 0; i < l.length;) {
      if (l[i] === name) {
        l.splice(i, 2);
        removed = true;
      } else i += 2;
    }
    return removed;
  }

  clone(): Headers {
    return new Headers(this.list.slice());
  }

  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) {
      const n = l[i]!;
      out[n] = out[n] === undefined ? l[i + 1]! : out[n] + ", " + l[i + 1];
    }
    return out;
  }
}
