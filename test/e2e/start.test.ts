/**
 * `npm start` as a user runs it (scripts/start.ts, the embedded dev server), on free ports, a
 * throwaway database and its own dev-server state file, so it never meets a running `npm start`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_BACKGROUND_NICE } from '../../scripts/parts';
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
  const pid = Number(/workers running \(pid (\d+)/.exec(run.output())?.[1]);
  assert.ok(pid > 0, 'the workers pid is printed');
  process.kill(pid, 'SIGKILL');
  const code = await run.exit();
  if (code === 'still running') run.child.kill('SIGKILL');
  assert.notEqual(code, 'still running', `npm start still running after its workers crashed:\n${run.output()}`);
  assert.notEqual(code, 0);
  assert.match(run.output(), /workers exited \(signal SIGKILL\); stopping the rest/);
  await assertNothingListens(run.ports);
});

/**
 * A process's autogroup nice value and each of its threads' nice values, from /proc. A process in
 * init's session (as a CI runner's may be) belongs to the root group, whose autogroup file is empty
 * and whose weight is that of nice 0.
 */
function niceValuesOf(pid: number): { group: number; threads: number[] } {
  const autogroup = readFileSync(`/proc/${pid}/autogroup`, 'utf8');
  const group = autogroup === '' ? 0 : Number(/nice (-?\d+)/.exec(autogroup)?.[1]);
  const threads = readdirSync(`/proc/${pid}/task`).map((thread) => {
    const stat = readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8');
    // Field 19 is the nice value; the fields start after the command name's last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
  return { group, threads };
}

test('the workers and the Temporal server run at BACKGROUND_NICE (default 10), the API at its own', async () => {
  const run = await startRouter('nice');
  try {
    const pidOf = (part: string) => Number(new RegExp(`${part} running \\(pid (\\d+)`).exec(run.output())?.[1]);
    const own = niceValuesOf(process.pid).group;
    for (const part of ['workers', 'Temporal server']) {
      const nice = niceValuesOf(pidOf(part));
      assert.equal(nice.group, DEFAULT_BACKGROUND_NICE, `${part}'s session`);
      assert.deepEqual([...new Set(nice.threads)], [DEFAULT_BACKGROUND_NICE], `${part}'s threads`);
    }
    const api = niceValuesOf(pidOf('api'));
    assert.equal(api.group, own, "the API's session keeps the supervisor's nice value");
    assert.ok(!api.threads.includes(DEFAULT_BACKGROUND_NICE), "the API's threads keep theirs");
  } finally {
    run.child.kill('SIGINT');
    if ((await run.exit()) === 'still running') run.child.kill('SIGKILL');
  }
});

test('a BACKGROUND_NICE outside 0–19 is refused at start-up, before anything starts', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, '../../scripts/start.ts')], {
    env: { ...process.env, DATABASE_URL: database.url, BACKGROUND_NICE: '-5' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
  assert.equal(code, 1);
  assert.match(output, /invalid configuration: BACKGROUND_NICE/);
  assert.doesNotMatch(output, /starting the Temporal dev server/);
});
