import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachInOrderPerKey, mapConcurrently, settlesWithin } from '../../src/concurrency';

test('mapConcurrently keeps the items order and never runs more than its bound at once', async () => {
  let running = 0;
  let most = 0;
  const results = await mapConcurrently([5, 1, 4, 2, 3, 0, 6], 3, async (value, index) => {
    running += 1;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, value));
    running -= 1;
    return `${index}:${value}`;
  });
  assert.deepEqual(results, ['0:5', '1:1', '2:4', '3:2', '4:3', '5:0', '6:6']);
  assert.equal(most, 3);
});

test('mapConcurrently of nothing is nothing, and a failure rejects the whole', async () => {
  assert.deepEqual(await mapConcurrently([], 4, async () => 1), []);
  await assert.rejects(
    mapConcurrently([1, 2], 2, async (value) => {
      if (value === 2) throw new Error('two');
      return value;
    }),
    /two/,
  );
});

test('settlesWithin says whether the work settled in time, a rejection counting as settled', async () => {
  assert.equal(await settlesWithin(Promise.resolve(), 1000), true);
  assert.equal(await settlesWithin(Promise.reject(new Error('no')), 1000), true);
  assert.equal(await settlesWithin(new Promise(() => undefined), 20), false);
});

test('forEachInOrderPerKey runs one key in order, keys at once, and skips the rest of a key after a refusal', async () => {
  const order: string[] = [];
  let running = 0;
  let most = 0;
  const items = ['a1', 'b1', 'a2', 'c1', 'b2', 'a3', 'b3'];
  const skipped = await forEachInOrderPerKey(items, (item) => item[0] ?? '', 2, async (item) => {
    running += 1;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, item.startsWith('a') ? 5 : 1));
    running -= 1;
    order.push(item);
    return item !== 'b2';
  });
  assert.deepEqual(skipped, ['b3']);
  assert.equal(most, 2);
  for (const key of ['a', 'b', 'c']) {
    const mine = order.filter((item) => item.startsWith(key));
    assert.deepEqual(mine, [...mine].sort(), `key ${key} in order`);
  }
  assert.ok(!order.includes('b3'));
});
