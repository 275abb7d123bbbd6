/** The benchmark's steady rate: what a run sustains, without its fill and drain (bench/load.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { steadyRate } from '../../bench/load';

test('the rate between the 10th and 90th percentile completions ignores a slow start and a slow tail', () => {
  const start = Date.UTC(2026, 11, 3);
  // A few completions trickle in while the pipeline fills, 100 at 20/s, then a few stragglers.
  const filling = [0, 1_500, 3_000].map((ms) => start + ms);
  const steady = Array.from({ length: 100 }, (_, index) => start + 5_000 + index * 50);
  const draining = [12_000, 15_000, 20_000].map((ms) => start + ms);
  const completions = [...draining, ...steady, ...filling];
  const wholeRun = completions.length / ((Math.max(...completions) - start) / 1000);
  assert.ok(Math.abs(steadyRate(completions) - 20) < 0.5, `steady ${steadyRate(completions)}/s`);
  assert.ok(wholeRun < 6, `the whole run's rate (${wholeRun}/s) is what the tails pull down`);
});

test('a run too short to have a middle has no steady rate', () => {
  assert.ok(Number.isNaN(steadyRate([1, 2, 3, 4, 5, 6, 7, 8, 9])));
  assert.ok(Number.isNaN(steadyRate(Array.from({ length: 20 }, () => 1_000))), 'all at one instant');
});
