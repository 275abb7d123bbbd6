// What every end-to-end benchmark shares: the REST client load, its options and its statistics.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { DEFAULT_BACKGROUND_NICE } from '../scripts/parts';
import { DEMO_API_KEY } from '../src/dev/seed';

/** Well above the demo's 50/20, so the router rather than the provider contract sets the pace. */
export const PROVIDER_TPS = 500;
export const PROVIDER_WINDOW = 100;

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

export function positiveIntegerFromEnv(name: string, fallback: number): number {
  return positiveInteger(name, process.env[name], fallback);
}

/** A count the benchmark was given (an option or a variable), or its default when not given. */
export function positiveInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new BenchConfigError(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/**
 * The nice value the benchmarks give the worker processes and the Temporal server: npm start's
 * (BACKGROUND_NICE) unless BENCH_BACKGROUND_NICE says otherwise; 0 runs them at the API's own.
 */
export function backgroundNiceFromEnv(): number {
  const raw = process.env.BENCH_BACKGROUND_NICE;
  if (raw === undefined || raw === '') return DEFAULT_BACKGROUND_NICE;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 19) throw new BenchConfigError(`BENCH_BACKGROUND_NICE must be an integer from 0 to 19, got "${raw}"`);
  return value;
}

/** The middle of a run, by completions: what its first and last tenth leave out. */
const STEADY_FROM = 0.1;
const STEADY_TO = 0.9;

/**
 * Completions per second between the run's 10th and 90th percentile completion times (epoch ms).
 * A run's first completions wait for the pipeline to fill and its last ones for it to drain, a
 * message's latency either way; the rate in between is what the system sustains. Undefined below
 * ten completions.
 */
export function steadyRate(completedAtMs: readonly number[]): number {
  if (completedAtMs.length < 10) return Number.NaN;
  const sorted = ascending(completedAtMs);
  const first = Math.floor(STEADY_FROM * (sorted.length - 1));
  const last = Math.ceil(STEADY_TO * (sorted.length - 1));
  const seconds = ((sorted[last] ?? 0) - (sorted[first] ?? 0)) / 1000;
  return seconds > 0 ? (last - first) / seconds : Number.NaN;
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

