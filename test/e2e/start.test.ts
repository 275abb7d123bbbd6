/**
 * `npm start` as a user runs it (scripts/start.ts, the embedded dev server), on free ports, a
 * throwaway database and its own dev-server state file, so it never meets a running `npm start`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { canConnect } from '../../src/dev/temporal-server';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { eventually, freePort } from '../support/stack';

/** Liveness bound only: the supervisor's own budget is about 15 s; this box is shared and noisy. */
const EXIT_BOUND_MS = 30_000;

let database: TestDatabase;
const stateDir = mkdtempSync(join(tmpdir(), 'smsrouter-start-'));

before(async () => {
  database = await createTestDatabase('start');
  // A report whose message id no workflow can have: whatever settling it waits on, Ctrl-C must not.
  await database.db.deliveryReport.create({
    data: { providerId: 'sim-generic', messageId: 'x'.repeat(100_000), status: 'delivered', payload: {}, orderKey: 'x' },
  });
});

after(async () => {
  await database?.drop();
  rmSync(stateDir, { recursive: true, force: true });
});

interface RunningStart {
  readonly child: ChildProcess;
  readonly ports: readonly number[];
  output(): string;
  exit(): Promise<number | null | 'still running'>;
}

async function startRouter(run: string): Promise<RunningStart> {
  const [apiPort, simulatorPort, temporalPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, '../../scripts/start.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      API_PORT: String(apiPort),
      PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
      SIMULATOR_PORT: String(simulatorPort),
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      TEMPORAL_UI_PORT: '0',
      TEMPORAL_DEV_DB: join(stateDir, `${run}.db`),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit((exitCode = code))));
  try {
    await eventually(
      async () => (output.includes('ready. Send a message') || exitCode !== undefined ? true : undefined),
      120_000,
      () => `npm start ready; it printed:\n${output}`,
    );
  } finally {
    // Ctrl-C, not SIGKILL: its parts and Temporal must not outlive it and load the rest of the run.
    if (exitCode === undefined && !output.includes('ready. Send a message')) child.kill('SIGINT');
  }
  assert.ok(exitCode === undefined, `npm start exited (code ${exitCode}) before it was ready; it printed:\n${output}`);
  return {
    child,
    ports: [apiPort, simulatorPort, temporalPort],
    output: () => output,
    exit: () => Promise.race([exited, new Promise<'still running'>((resolveLate) => setTimeout(() => resolveLate('still running'), EXIT_BOUND_MS))]),
  };
}

async function assertNothingListens(ports: readonly number[]): Promise<void> {
  for (const port of ports) assert.equal(await canConnect(port), false, `port ${port} still served after the run ended`);
}

test('Ctrl-C with a poisoned delivery report row present exits in time, and stops every part', async () => {
  const run = await startRouter('ctrl-c');
  // Let the reconciler in the worker process pick the row up.
  await new Promise((resolveWait) => setTimeout(resolveWait, 2_000));
  run.child.kill('SIGINT');
  const code = await run.exit();
  if (code === 'still running') run.child.kill('SIGKILL');
  assert.notEqual(code, 'still running', `npm start still running ${EXIT_BOUND_MS / 1000} s after Ctrl-C:\n${run.output()}`);
  await assertNothingListens(run.ports);
});

test('a part that crashes is reported and stops the whole run with a non-zero exit', async () => {
  const run = await startRouter('crash');
  const pid = Number(/workers running \(pid (\d+)\)/.exec(run.output())?.[1]);
  assert.ok(pid > 0, 'the workers pid is printed');
  process.kill(pid, 'SIGKILL');
  const code = await run.exit();
  if (code === 'still running') run.child.kill('SIGKILL');
  assert.notEqual(code, 'still running', `npm start still running after its workers crashed:\n${run.output()}`);
  assert.notEqual(code, 0);
  assert.match(run.output(), /workers exited \(signal SIGKILL\); stopping the rest/);
  await assertNothingListens(run.ports);
});
