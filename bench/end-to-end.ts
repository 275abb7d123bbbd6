// The whole router under load: a real Temporal dev server, PostgreSQL, the API, the workers and the
// provider simulator in this process (test/support/stack.ts). N messages go through the REST API
// with bounded client concurrency; the figures say how fast the API accepts them, how fast they
// reach a final status, what the API and the DLR webhook cost per request, and what Temporal keeps.
//
//   BENCH_MESSAGES=2000 BENCH_CONCURRENCY=32 npm run bench -- end-to-end

import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { DEMO_API_KEY, DEMO_PROVIDERS } from '../src/dev/seed';
import { FINAL_STATUSES, type MessageStatus } from '../src/domain/status';
import { startStack, type TestStack } from '../test/support/stack';
import { runBareShape } from './bare-shape/run';
import type { BenchResult } from './types';

/** Well above the demo's 50/20, so the router rather than the provider contract sets the pace. */
const PROVIDER_TPS = 500;
const PROVIDER_WINDOW = 100;
/** Sent and finished before measuring, so connection set-up and first-use costs stay out of the figures. */
const WARM_UP_MESSAGES = 20;
const HISTORY_SAMPLES = 5;
const POLL_MS = 250;

export class BenchConfigError extends Error {
  override readonly name = 'BenchConfigError';
}

export class BenchSubmitError extends Error {
  override readonly name = 'BenchSubmitError';
  constructor(
    readonly statusCode: number,
    readonly body: string,
  ) {
    super(`POST /v1/messages answered ${statusCode}: ${body}`);
  }
}

export class BenchTimeoutError extends Error {
  override readonly name = 'BenchTimeoutError';
  constructor(
    readonly finished: number,
    readonly expected: number,
  ) {
    super(`only ${finished} of ${expected} messages reached a final status in time`);
  }
}

export function positiveIntegerFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new BenchConfigError(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/** Linear interpolation between closest ranks, as PostgreSQL's percentile_cont. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = fraction * (sorted.length - 1);
  const lower = Math.floor(position);
  const below = sorted[lower] ?? Number.NaN;
  const above = sorted[Math.min(lower + 1, sorted.length - 1)] ?? below;
  return below + (above - below) * (position - lower);
}

export function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

export function ratio(value: number): string {
  return `${value.toFixed(2)}×`;
}

interface Submitted {
  readonly ids: string[];
  /** Per request, in milliseconds. */
  readonly latencies: number[];
  readonly startedAt: number;
  readonly seconds: number;
}

interface SubmitAnswer {
  messages: { id: string }[];
}

/** One message per request, at most `concurrency` requests in flight, each on its own keep-alive connection. */
export async function submitAll(apiUrl: string, count: number, concurrency: number, label: string): Promise<Submitted> {
  const pool = new Pool(apiUrl, { connections: concurrency });
  const ids: string[] = new Array<string>(count);
  const latencies: number[] = [];
  let next = 0;
  const startedAt = Date.now();
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, count) }, async () => {
        for (let index = next++; index < count; index = next++) {
          const sentAt = performance.now();
          const response = await pool.request({
            method: 'POST',
            path: '/v1/messages',
            headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
            // Valid Danish mobile numbers, a different one per message.
            body: JSON.stringify({ to: `+4520${String(100_000 + index)}`, from: 'Bench', body: `${label} ${index}` }),
          });
          const text = await response.body.text();
          latencies.push(performance.now() - sentAt);
          if (response.statusCode !== 202) throw new BenchSubmitError(response.statusCode, text);
          const id = (JSON.parse(text) as SubmitAnswer).messages[0]?.id;
          if (!id) throw new BenchSubmitError(response.statusCode, text);
          ids[index] = id;
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return { ids, latencies, startedAt, seconds: (performance.now() - started) / 1000 };
}

/** Resolves with the time the last of them became final (the workflow's clock, written to Message.completedAt). */
async function waitUntilFinal(stack: TestStack, ids: readonly string[], timeoutMs: number): Promise<Date> {
  const finalStatuses: MessageStatus[] = [...FINAL_STATUSES];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const finished = await stack.db.message.count({ where: { id: { in: [...ids] }, status: { in: finalStatuses } } });
    if (finished === ids.length) break;
    if (Date.now() > deadline) throw new BenchTimeoutError(finished, ids.length);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const { _max } = await stack.db.message.aggregate({ where: { id: { in: [...ids] } }, _max: { completedAt: true } });
  return _max.completedAt ?? new Date();
}

/** Every workflow's history, counted over a few messages spread across the run. */
async function historyLengths(stack: TestStack, ids: readonly string[]): Promise<{ historyEvents: number[]; statusEvents: number[] }> {
  const step = Math.max(1, Math.floor(ids.length / HISTORY_SAMPLES));
  const sample = ids.filter((_, index) => index % step === 0).slice(0, HISTORY_SAMPLES);
  const historyEvents = await Promise.all(
    sample.map(async (id) => (await stack.temporal.workflow.getHandle(id).fetchHistory()).events?.length ?? 0),
  );
  const statusEvents = await Promise.all(sample.map((id) => stack.db.messageEvent.count({ where: { messageId: id } })));
  return { historyEvents, statusEvents };
}

/** The test stack with the demo's first provider raised to the benchmark's rate and window. */
export async function startBenchStack(): Promise<{ stack: TestStack; providerId: string }> {
  const [provider] = DEMO_PROVIDERS;
  if (!provider) throw new BenchConfigError('no demo provider to send through');
  const stack = await startStack();
  await stack.db.provider.update({ where: { id: provider.id }, data: { tps: PROVIDER_TPS, window: PROVIDER_WINDOW } });
  // New workers read the new rate and window at once, instead of at the next provider sync.
  await stack.restartWorkers();
  // The simulator enforces the contract like a real provider would, answering 429 past it.
  stack.simulator.configure(provider.id, { tpsLimit: PROVIDER_TPS });
  return { stack, providerId: provider.id };
}

export async function benchEndToEnd(): Promise<BenchResult> {
  const messages = positiveIntegerFromEnv('BENCH_MESSAGES', 2000);
  const concurrency = positiveIntegerFromEnv('BENCH_CONCURRENCY', 32);
  const { stack } = await startBenchStack();
  try {
    const warmUp = await submitAll(stack.api.url, WARM_UP_MESSAGES, concurrency, 'warm-up');
    await waitUntilFinal(stack, warmUp.ids, 60_000);

    const callbacksBefore = stack.simulator.callbacks.length;
    const receivedBefore = stack.simulator.received.length;
    const run = await submitAll(stack.api.url, messages, concurrency, 'bench');
    // Generous: at the provider limit this takes messages / 475 s; a loaded machine may need many times that.
    const lastFinalAt = await waitUntilFinal(stack, run.ids, 60_000 + messages * 50);

    const endToEndSeconds = (lastFinalAt.getTime() - run.startedAt) / 1000;
    const acceptedRate = messages / run.seconds;
    const endToEndRate = messages / endToEndSeconds;
    const apiLatency = ascending(run.latencies);
    const callbacks = stack.simulator.callbacks.slice(callbacksBefore);
    const dlrLatency = ascending(callbacks.map((callback) => callback.latencyMs));
    const submits = stack.simulator.received.slice(receivedBefore);
    const delivered = await stack.db.message.count({ where: { id: { in: run.ids }, status: 'delivered' } });
    const { historyEvents, statusEvents } = await historyLengths(stack, run.ids);
    const historyMedian = percentile(ascending(historyEvents), 0.5);
    const statusMedian = percentile(ascending(statusEvents), 0.5);
    // The same number of workflows of the message's shape with no router code, on the same server.
    const bare = await runBareShape({ address: stack.config.TEMPORAL_ADDRESS, count: messages, concurrency });

    return {
      name: 'end to end (REST API → Temporal → simulated provider → DLR → PostgreSQL)',
      figures: {
        messages,
        'client concurrency': concurrency,
        'provider tps / window': `${PROVIDER_TPS} / ${PROVIDER_WINDOW}`,
        delivered: `${delivered} of ${messages}`,
        'provider submits (of which 429)': `${submits.length} (${submits.filter((entry) => entry.outcome === 'throttled').length})`,
        'API accepted (msg/s)': round(acceptedRate),
        'end to end, submit to final (msg/s)': round(endToEndRate),
        'end to end / API acceptance rate': ratio(endToEndRate / acceptedRate),
        'end to end / provider tps': ratio(endToEndRate / PROVIDER_TPS),
        'bare Temporal, same workflow shape and server (wf/s)': round(bare.rate),
        'router end to end / bare Temporal': ratio(endToEndRate / bare.rate),
        'bare Temporal history events per workflow': bare.historyEvents,
        'API latency median (ms)': round(percentile(apiLatency, 0.5)),
        'API latency p99 (ms)': round(percentile(apiLatency, 0.99)),
        'DLR callbacks': callbacks.length,
        'DLR ack latency median (ms)': round(percentile(dlrLatency, 0.5)),
        'DLR ack latency p99 (ms)': round(percentile(dlrLatency, 0.99)),
        'Temporal history events per message (median)': historyMedian,
        'Temporal history events, range over samples': `${Math.min(...historyEvents)}–${Math.max(...historyEvents)} (${historyEvents.length} workflows)`,
        'history events per recorded status change': ratio(historyMedian / statusMedian),
        'RSS of this process, MB (API + workers + simulator + client)': Math.round(process.memoryUsage().rss / 1024 / 1024),
      },
    };
  } finally {
    await stack.close();
  }
}
