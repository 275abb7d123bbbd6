/**
 * Runs alone (`npm run test:rates`): the simulator judges arrivals against a one-second window, and a
 * test starting its own stack beside this one stalls the simulator's or a worker's event loop long
 * enough to hand it a second's submits at once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import type { ReceivedSubmit } from '../../src/simulator/server';
import { temporal } from '@temporalio/proto';
import { providerTaskQueue } from '../../src/domain/dispatch';
import { dispatchRate } from '../../src/workers/dispatch';
import { eventually, everyMessageRouted, freePort, startStack, type TestStack } from '../support/stack';
import { submitRates } from '../support/submit-rate';

const CONFIGURED_TPS = 30;
const MESSAGES = 300;
const credentials = { apiKey: 'k' };

let stack: TestStack;
/** The provider simulator in its own process. */
let simulatorUrl = '';
const children: ChildProcess[] = [];

/** Starts a project entry point in its own process and resolves once it printed `readyText`. */
async function startProcess(entry: string, env: NodeJS.ProcessEnv, readyText: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, '../..', entry)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await eventually(async () => (output.includes(readyText) ? true : undefined), 60_000, `${entry} to start`);
}

before(async () => {
  // The in-process worker routes but does not dispatch: the two worker processes below do.
  stack = await startStack({ dispatch: false });
  // The provider runs in its own process, as a real one would: arrival times are not skewed by the
  // router's event loop, and the token-bucket limit judges what really arrives.
  const simulatorPort = await freePort();
  await startProcess(
    'src/simulator/main.ts',
    {
      SIMULATOR_PORT: String(simulatorPort),
      SIMULATOR_PROVIDERS: JSON.stringify([
        { name: 'limited', dialect: 'generic', credentials, behaviour: { tpsLimit: CONFIGURED_TPS, dlrDelayMs: 600_000 } },
      ]),
    },
    'simulator listening',
  );
  await stack.addProvider({
    id: 'limited',
    dialect: 'generic',
    credentials,
    routes: [{ prefix: '4550' }],
    tps: CONFIGURED_TPS,
    window: 30,
    baseUrl: `http://127.0.0.1:${simulatorPort}/limited`,
  });
  simulatorUrl = `http://127.0.0.1:${simulatorPort}`;
});

after(async () => {
  for (const child of children) child.kill('SIGTERM');
  await stack?.close();
});

/** Two worker processes, as a deployment scaled to two machines would run. */
async function startTwoWorkerProcesses(): Promise<void> {
  const env = {
    DATABASE_URL: stack.config.DATABASE_URL,
    TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS,
    PUBLIC_BASE_URL: stack.config.PUBLIC_BASE_URL,
    LOG_LEVEL: 'info',
  };
  await Promise.all([startProcess('src/workers/main.ts', env, 'workers running'), startProcess('src/workers/main.ts', env, 'workers running')]);
}

/** The queue's server-side limit, as DispatchWorkers sets it; 0 pauses the queue. */
async function setQueueRate(requestsPerSecond: number): Promise<void> {
  await stack.temporal.connection.workflowService.updateTaskQueueConfig({
    namespace: 'default',
    identity: 'rate-limit-test',
    taskQueue: providerTaskQueue('limited'),
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    updateQueueRateLimit: { rateLimit: { requestsPerSecond }, reason: 'rate-limit test' },
  });
}

test(`two worker processes together keep one provider within its ${CONFIGURED_TPS} TPS, and it never answers 429`, async () => {
  // Both worker processes are polling, and the queue is held, before any message exists: the
  // measurement starts from a backlog and warm pollers, not from how fast this 2-core machine can
  // route messages or start processes.
  await startTwoWorkerProcesses();
  await setQueueRate(0);
  const ids = await Promise.all(
    Array.from({ length: MESSAGES }, async (_, index) => {
      const response = await request(`${stack.api.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: `+4550${String(120000 + index)}`, from: 'Acme', body: `rate ${index}` }),
      });
      const answer = (await response.body.json()) as { messages: { id: string }[] };
      return answer.messages[0]?.id ?? '';
    }),
  );
  await everyMessageRouted(stack.temporal, ids);
  await setQueueRate(dispatchRate(CONFIGURED_TPS, stack.config.DISPATCH_HEADROOM));
  // Only the submits are measured: the simulator holds its DLRs back so that finishing messages
  // does not compete with dispatching them for this machine's two cores.
  const received = await eventually(async () => {
    const response = await request(`${simulatorUrl}/_control/received`);
    const entries = (await response.body.json()) as ReceivedSubmit[];
    return entries.filter((entry) => entry.outcome === 'accepted').length >= MESSAGES ? entries : undefined;
  }, 120_000, 'every submit at the provider');
  const accepted = received.filter((entry) => entry.outcome === 'accepted');
  const throttled = received.filter((entry) => entry.outcome === 'throttled');
  assert.equal(accepted.length, MESSAGES, 'every message submitted');
  const perMessage = new Map<string, number>();
  for (const entry of accepted) perMessage.set(entry.submit.reference ?? '', (perMessage.get(entry.submit.reference ?? '') ?? 0) + 1);
  for (const id of ids) assert.equal(perMessage.get(id), 1, `${id} submitted once`);

  const { measuredTps, sustainedTps } = submitRates(accepted.map((entry) => entry.receivedAt));
  console.log(
    `rate limit: configured ${CONFIGURED_TPS} TPS; measured ${measuredTps.toFixed(2)} TPS over all ${accepted.length} submits ` +
      `(ratio ${(measuredTps / CONFIGURED_TPS).toFixed(3)}), sustained ${sustainedTps.toFixed(2)} TPS after the first second ` +
      `(ratio ${(sustainedTps / CONFIGURED_TPS).toFixed(3)}); 429 answers: ${throttled.length}`,
  );
  {
    const t0 = Math.min(...received.map((e) => e.receivedAt));
    const rows = received.map((e) => `${e.receivedAt - t0} ${e.outcome} ${e.receivedAt}`).sort((a, b) => Number(a.split(' ')[0]) - Number(b.split(' ')[0]));
    require('node:fs').writeFileSync('/tmp/rl-arrivals.txt', rows.join('\n'));
  }
  assert.equal(throttled.length, 0, 'the simulator answered no 429');
  assert.ok(Math.abs(measuredTps - CONFIGURED_TPS) <= CONFIGURED_TPS * 0.1, `measured ${measuredTps} TPS`);
  assert.ok(Math.abs(sustainedTps - CONFIGURED_TPS) <= CONFIGURED_TPS * 0.1, `sustained ${sustainedTps} TPS`);
});
