import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SubmitPacer, type PacerClock } from '../../src/activities/submit-pacer';

/** A clock that only moves when told to; `sleep` resolves once the clock passes its end. */
class ManualClock implements PacerClock {
  private time = 1_000_000;
  private readonly sleepers: { until: number; wake: () => void }[] = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ until: this.time + ms, wake }));
  }

  /** Moves to `time`, waking every sleeper due by then and letting its continuation run. */
  async advanceTo(time: number): Promise<void> {
    this.time = Math.max(this.time, time);
    for (const sleeper of this.sleepers.filter((entry) => entry.until <= this.time)) {
      this.sleepers.splice(this.sleepers.indexOf(sleeper), 1);
      sleeper.wake();
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Starts one waitForSlot per arrival time, running the clock through them; returns when each left. */
async function departures(ratePerSecond: number, arrivals: readonly number[]): Promise<number[]> {
  const clock = new ManualClock();
  const start = clock.now();
  const pacer = new SubmitPacer(ratePerSecond, clock);
  const left: number[] = [];
  const waits: Promise<void>[] = [];
  const sorted = [...arrivals].sort((a, b) => a - b);
  const horizon = (sorted.at(-1) ?? 0) + ((sorted.length + 1) * 1000) / ratePerSecond;
  let next = 0;
  for (let time = start; time <= start + horizon; time += 1) {
    await clock.advanceTo(time);
    while (next < sorted.length && start + (sorted[next] ?? 0) <= time) {
      next += 1;
      waits.push(pacer.waitForSlot().then(() => void left.push(clock.now() - start)));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(waits);
  return left;
}

test('submits handed over at once leave one interval apart, the first at once', async () => {
  const left = await departures(20, Array.from({ length: 6 }, () => 0));
  assert.deepEqual(left, [0, 50, 100, 150, 200, 250]);
});

test('a submit after a quiet interval leaves at once: pacing adds no wait at or under the rate', async () => {
  const left = await departures(20, [0, 50, 300, 400]);
  assert.deepEqual(left, [0, 50, 300, 400]);
});

test('whatever the arrivals, no second of departures holds more than the rate allows, and none leaves early', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 2, max: 40 }), fc.array(fc.integer({ min: 0, max: 1_500 }), { minLength: 1, maxLength: 60 }), async (rate, arrivals) => {
      const left = await departures(rate, arrivals);
      const sortedArrivals = [...arrivals].sort((a, b) => a - b);
      left.forEach((time, index) => assert.ok(time >= (sortedArrivals[index] ?? 0), `submit ${index} left before it arrived`));
      for (const from of left) {
        const inWindow = left.filter((time) => time >= from && time < from + 1000).length;
        // One interval's rounding at each end of the window: departures land on whole milliseconds.
        assert.ok(inWindow <= Math.ceil(rate) + 1, `${inWindow} departures within one second at ${rate}/s`);
      }
    }),
    { numRuns: 30 },
  );
});

test('a rate that is not positive is refused', () => {
  assert.throws(() => new SubmitPacer(0), RangeError);
});
