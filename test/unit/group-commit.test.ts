import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommit } from '../../src/inbox/group-commit';

/** A write that records each flush and waits until the test lets it finish. */
function recordingWrite() {
  const flushes: number[][] = [];
  const pending: { resolve(): void; reject(error: Error): void }[] = [];
  const write = (rows: readonly number[]) =>
    new Promise<void>((resolve, reject) => {
      flushes.push([...rows]);
      pending.push({ resolve, reject });
    });
  return { flushes, pending, write };
}

test('concurrent appends share one flush, and each caller waits for its commit', async () => {
  const { flushes, pending, write } = recordingWrite();
  const commits = new GroupCommit(write, { maxRows: 100, lingerMs: 5 });
  let settled = 0;
  const appends = [commits.append([1]), commits.append([2, 3]), commits.append([4])].map((append) => append.then(() => (settled += 1)));
  while (flushes.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.deepEqual(flushes, [[1, 2, 3, 4]]);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(settled, 0, 'nobody is answered before the flush commits');
  pending[0]?.resolve();
  await Promise.all(appends);
  assert.equal(settled, 3);
});

test('rows appended during a flush form the next one, in order; a full batch does not wait', async () => {
  const { flushes, pending, write } = recordingWrite();
  const commits = new GroupCommit(write, { maxRows: 2, lingerMs: 60_000 });
  const first = commits.append([1, 2]);
  assert.deepEqual(flushes, [[1, 2]]);
  const second = commits.append([3]);
  const third = commits.append([4]);
  assert.equal(flushes.length, 1, 'one flush at a time');
  pending[0]?.resolve();
  await first;
  while (flushes.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.deepEqual(flushes[1], [3, 4]);
  pending[1]?.resolve();
  await Promise.all([second, third]);
});

test('a failed flush fails exactly the callers it carried; the next flush goes on', async () => {
  const { flushes, pending, write } = recordingWrite();
  const commits = new GroupCommit(write, { maxRows: 2, lingerMs: 60_000 });
  const carried = [commits.append([1]), commits.append([2])];
  const later = commits.append([3, 4]);
  pending[0]?.reject(new Error('connection lost'));
  for (const append of carried) await assert.rejects(append, /connection lost/);
  while (flushes.length < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.deepEqual(flushes[1], [3, 4]);
  pending[1]?.resolve();
  await later;
});

test('close writes what is queued', async () => {
  const written: number[] = [];
  const commits = new GroupCommit(async (rows: readonly number[]) => void written.push(...rows), { maxRows: 100, lingerMs: 60_000 });
  const append = commits.append([7, 8]);
  await commits.close();
  await append;
  assert.deepEqual(written, [7, 8]);
});
