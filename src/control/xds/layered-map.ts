// A map made of a shared base and a small overlay, without copying the base. A sidecar's listeners and clusters
// are the outbound ones every proxy with the same view of the mesh shares (a thousand clusters) plus its own
// inbound ones (a few): layering them costs per proxy only the overlay, where a merged copy would cost the
// thousand entries again for each of thousands of proxies on every change.

export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  readonly size: number;

  /** Names in `overlay` hide the same names in `base`. */
  constructor(
    readonly base: ReadonlyMap<K, V>,
    readonly overlay: ReadonlyMap<K, V>,
  ) {
    let hidden = 0;
    for (const k of overlay.keys()) if (base.has(k)) hidden++;
    this.size = base.size + overlay.size - hidden;
  }

  get(key: K): V | undefined {
    return this.overlay.has(key) ? this.overlay.get(key) : this.base.get(key);
  }

  has(key: K): boolean {
    return this.overlay.has(key) || this.base.has(key);
  }

  *entries(): MapIterator<[K, V]> {
    for (const entry of this.base) if (!this.overlay.has(entry[0])) yield entry;
    yield* this.overlay;
  }

  *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}
