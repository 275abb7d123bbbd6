// What a backlog in the delivery report inbox costs the front door: submit latency while the
// forwarder drains 5,000 reports, against the same submits with nothing stored, and how fast the
// backlog drains. Half the reports are for finished messages (settled without a signal), half name
// messages nobody knows (a signal each, answered "not found", then they wait for their message).
//
//   BENCH_BACKLOG=5000 BENCH_BACKLOG_SUBMITS=400 npm run bench -- stored-report-backlog

import { randomUUID } from 'node:crypto';
import { createFinishedMessages, deliveredReport, storedReportRow } from '../test/support/stored-reports';
import type { TestStack } from '../test/support/stack';
import { startBenchStack } from './end-to-end';
import { ascending, percentile, positiveIntegerFromEnv, ratio, round, submitAll } from './load';
import type { BenchResult } from './types';

const CONCURRENCY = 16;
const POLL_MS = 100;

async function storeBacklog(stack: TestStack, providerId: string, count: number): Promise<void> {
  const finished = await createFinishedMessages(stack.db, providerId, Math.ceil(count / 2), 'bench-finished');
  const withoutWorkflow = Array.from({ length: count - finished.length }, (_, index) => ({ id: randomUUID(), providerMessageId: `bench-gone-${index}` }));
  await stack.db.deliveryReport.createMany({
    data: [...finished, ...withoutWorkflow].map((message) => storedReportRow(providerId, deliveredReport(message))),
  });
}

/** Reports not tried yet: one for an unknown message stays in the inbox after its try, waiting for it. */
function waitingReports(stack: TestStack): Promise<number> {
  return stack.db.deliveryReport.count({ where: { processedAt: null, parkedAt: null, attempts: 0 } });
}

export async function benchStoredReportBacklog(): Promise<BenchResult> {
  const backlog = positiveIntegerFromEnv('BENCH_BACKLOG', 5000);
  const submits = positiveIntegerFromEnv('BENCH_BACKLOG_SUBMITS', 400);
  const { stack, providerId } = await startBenchStack();
  try {
    await submitAll(stack.api.url, 20, CONCURRENCY, 'warm-up');

    const empty = await submitAll(stack.api.url, submits, CONCURRENCY, 'empty backlog');

    await storeBacklog(stack, providerId, backlog);
    const drainStarted = performance.now();
    const loaded = await submitAll(stack.api.url, submits, CONCURRENCY, 'draining backlog');
    const leftAfterSubmits = await waitingReports(stack);
    while ((await waitingReports(stack)) > 0) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const parked = await stack.db.deliveryReport.count({ where: { parkedAt: { not: null } } });

    const emptyP99 = percentile(ascending(empty.latencies), 0.99);
    const loadedP99 = percentile(ascending(loaded.latencies), 0.99);
    return {
      name: 'delivery report inbox backlog (forwarder draining while clients submit)',
      figures: {
        'stored reports': backlog,
        'submits per phase (client concurrency)': `${submits} (${CONCURRENCY})`,
        'submit p99, empty backlog (ms)': round(emptyP99),
        'submit p99, backlog draining (ms)': round(loadedP99),
        'submit p99, draining / empty': ratio(loadedP99 / emptyP99),
        'submit median, draining / empty': ratio(percentile(ascending(loaded.latencies), 0.5) / percentile(ascending(empty.latencies), 0.5)),
        'reports still stored when the submits ended': leftAfterSubmits,
        'drain rate (reports/s)': round(backlog / drainSeconds),
        'parked after the drain': parked,
      },
    };
  } finally {
    await stack.close();
  }
}
