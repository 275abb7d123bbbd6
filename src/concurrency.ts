/**
 * `work` over every item, at most `concurrency` at a time; results in the items' order. The first
 * rejection rejects the whole, as Promise.all does (callers that must go on catch inside `work`).
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < items.length; index = next++) {
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, lane));
  return results;
}

/**
 * Waits for `work` at most `ms`; true when it settled in time. Whatever it was waiting on is left
 * behind, not cancelled: for shutdown paths, where a bounded wait matters more than the last task.
 */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `work` over every item: one key's items one at a time in their order, up to `concurrency` keys at
 * once. When `work` answers false the rest of that key's items are skipped (they must not overtake
 * it); returns the skipped ones.
 */
export async function forEachInOrderPerKey<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  concurrency: number,
  work: (item: T) => Promise<boolean>,
): Promise<T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(keyOf(item));
    if (group) group.push(item);
    else groups.set(keyOf(item), [item]);
  }
  const skipped: T[] = [];
  await mapConcurrently([...groups.values()], concurrency, async (group) => {
    for (const [index, item] of group.entries()) {
      if (await work(item)) continue;
      skipped.push(...group.slice(index + 1));
      return;
    }
  });
  return skipped;
}

/**
 * Concurrent look-ups of one key share a single call: when a cached verdict expires, every request
 * in flight misses at once, and each would otherwise ask the database the same question.
 */
export class SharedLookups<V> {
  private readonly inFlight = new Map<string, Promise<V>>();

  run(key: string, lookUp: () => Promise<V>): Promise<V> {
    let shared = this.inFlight.get(key);
    if (!shared) {
      shared = lookUp().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, shared);
    }
    return shared;
  }
}
