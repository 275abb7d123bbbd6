// The embedded dev server's SQLite settings: the bare Temporal shape of a message
// (bench/bare-workflow) run BENCH_WORKFLOWS times (default 300), BENCH_CONCURRENCY (default 32) at a
// time, against a dev server with a state file, once with SQLite's defaults and once with the
// pragmas `npm start` uses (SQLITE_PRAGMAS). Reports workflows/s of each and their ratio.
//
//   npm run bench -- dev-server-sqlite

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { SQLITE_PRAGMAS } from '../src/dev/temporal-server';
import { installTemporalRuntime } from '../src/workers/runtime';
import { startTestDevServer } from '../test/support/stack';
import * as activities from './bare-workflow/activities';
import type { BenchResult } from './types';

const TASK_QUEUE = 'bench-bare';

async function workflowsPerSecond(pragmas: readonly string[], count: number, concurrency: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'smsrouter-bench-sqlite-'));
  const server = await startTestDevServer({ dbFile: join(dir, 'temporal.db'), sqlitePragmas: pragmas });
  try {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./bare-workflow/workflows'), logger: new DefaultLogger('WARN') });
    const worker = await Worker.create({ connection: await NativeConnection.connect({ address: server.address }), taskQueue: TASK_QUEUE, workflowBundle, activities });
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    const running = worker.run();
    let next = 0;
    const one = async (): Promise<void> => {
      while (next < count) {
        const index = next++;
        const handle = await client.workflow.signalWithStart('bareMessage', {
          taskQueue: TASK_QUEUE,
          workflowId: `bare-${index}`,
          signal: 'report',
          signalArgs: [],
        });
        await handle.result();
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, one));
    const seconds = (performance.now() - started) / 1000;
    worker.shutdown();
    await running;
    await client.connection.close();
    return count / seconds;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchDevServerSqlite(): Promise<BenchResult> {
  installTemporalRuntime();
  const count = Number(process.env.BENCH_WORKFLOWS ?? 300);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
  const defaults = await workflowsPerSecond([], count, concurrency);
  const tuned = await workflowsPerSecond(SQLITE_PRAGMAS, count, concurrency);
  return {
    name: `dev server SQLite: ${count} bare message workflows, ${concurrency} at a time`,
    figures: {
      'workflows/s, SQLite defaults': defaults.toFixed(1),
      [`workflows/s, ${SQLITE_PRAGMAS.join(' ')}`]: tuned.toFixed(1),
      ratio: (tuned / defaults).toFixed(2),
    },
  };
}
