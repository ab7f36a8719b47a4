// Waiting for something the event loop will make true, without a fixed sleep standing in for it.

export async function waitFor(cond: () => boolean, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > limitMs) throw new Error("condition not met in time");
    await new Promise((r) => setImmediate(r));
  }
}

/** Runs `total` calls of `fn`, at most `concurrency` at a time, and returns their results in order. */
export async function runBounded<T>(total: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(total);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return out;
}
