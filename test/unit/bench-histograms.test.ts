/** The benchmark's reading of a part's histograms over a window of two scrapes (bench/prometheus.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { histogramQuantile, histogramWindow, parseScrape } from '../../bench/prometheus';

function acks(): { registry: Registry; histogram: Histogram<'outcome'> } {
  const registry = new Registry();
  const histogram = new Histogram({ name: 'ack_seconds', help: 'h', labelNames: ['outcome'], buckets: [0.001, 0.002, 0.005, 0.01], registers: [registry] });
  return { registry, histogram };
}

test("a window holds only what was observed between its scrapes, of the series with the given labels", async () => {
  const { registry, histogram } = acks();
  for (let index = 0; index < 50; index += 1) histogram.observe({ outcome: 'acknowledged' }, 0.0095);
  const before = parseScrape(await registry.metrics());
  // 100 in the window: 90 under 1 ms, 9 between 2 and 5 ms, 1 above every bound; and refusals, not asked for.
  for (let index = 0; index < 90; index += 1) histogram.observe({ outcome: 'acknowledged' }, 0.0005);
  for (let index = 0; index < 9; index += 1) histogram.observe({ outcome: 'acknowledged' }, 0.003);
  histogram.observe({ outcome: 'acknowledged' }, 0.5);
  for (let index = 0; index < 500; index += 1) histogram.observe({ outcome: 'refused' }, 0.008);
  const window = histogramWindow(before, parseScrape(await registry.metrics()), 'ack_seconds', ['outcome="acknowledged"']);
  assert.equal(window.count, 100);
  assert.ok(Math.abs(window.sum - (90 * 0.0005 + 9 * 0.003 + 0.5)) < 1e-9);
  assert.deepEqual(
    window.buckets.map((bucket) => bucket.count),
    [90, 90, 99, 99, 100],
  );
  // Interpolated within the bucket the rank falls in, as PromQL's histogram_quantile.
  assert.ok(Math.abs(histogramQuantile(window, 0.5) - 0.0005 * (50 / 90) * 2) < 1e-9);
  assert.ok(Math.abs(histogramQuantile(window, 0.95) - (0.002 + 0.003 * (5 / 9))) < 1e-9);
  assert.equal(histogramQuantile(window, 0.999), 0.01, 'above every bound: the highest finite one');
});

test('an empty window has no quantile', async () => {
  const { registry } = acks();
  const scrape = parseScrape(await registry.metrics());
  assert.ok(Number.isNaN(histogramQuantile(histogramWindow(scrape, scrape, 'ack_seconds'), 0.99)));
});
