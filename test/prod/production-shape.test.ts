/**
 * The production shape: the full Temporal server (v1.29.1) on PostgreSQL, the setup step, and the
 * API, two worker processes and the provider simulator each in its own OS process.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { request } from 'undici';
import { PartProcess, PartStartError, type PartName } from '../../scripts/parts';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { providerTaskQueue } from '../../src/domain/dispatch';
import type { ReceivedSubmit } from '../../src/simulator/server';
import { runSetup } from '../../scripts/setup';
import { loadConfig } from '../../src/config';
import { assertTemporalSetUp, ensureNamespace } from '../../src/temporal/namespace';
import { dispatchRate } from '../../src/workers/dispatch';
import { assertNothingLost, figures, finalCount, numbers, postBatch, receivedFor, report, settle } from '../support/fault-figures';
import { startProcessStack, type ProcessStack } from '../support/process-stack';
import { eventually, everyMessageRouted } from '../support/stack';
import { submitRates } from '../support/submit-rate';
import { startTestTemporalServer, type TestTemporalServer } from '../support/temporal-postgres';

const credentials = { apiKey: 'k', dlrSecret: 'dlr-secret' };
const LIMITED_TPS = 30;
const RATE_MESSAGES = 300;
const FINAL = new Set(['delivered', 'undelivered', 'failed', 'unknown', 'rejected', 'expired']);
/** Messages in flight when the Temporal server is killed (FAULT_MESSAGES: `npm run chaos` runs it long), and how long it stays down. */
const CRASH_MESSAGES = Number(process.env.FAULT_MESSAGES ?? 200);
const CRASH_DOWN_MS = Number(process.env.FAULT_DOWN_SECONDS ?? 5) * 1000;

interface MessageView {
  id: string;
  status: string;
  providerId: string | null;
  providerMessageId: string | null;
  events: { status: string; providerId: string | null; errorCode?: string | null }[];
}

let server: TestTemporalServer;
let stack: ProcessStack;

before(async () => {
  server = await startTestTemporalServer();
  stack = await startProcessStack({
    temporalAddress: server.address,
    workerProcesses: 2,
    providers: [
      { id: 'first', dialect: 'generic', credentials, routes: [{ prefix: '4530', priority: 0 }] },
      { id: 'second', dialect: 'generic', credentials, routes: [{ prefix: '4530', priority: 1 }] },
      { id: 'reports', dialect: 'generic', credentials, routes: [{ prefix: '4540' }], behaviour: { intermediateReport: true, dlrDelayMs: 500 } },
      {
        id: 'limited',
        dialect: 'generic',
        credentials,
        routes: [{ prefix: '4550' }],
        tps: LIMITED_TPS,
        window: 30,
        // DLRs held back: only the submits are measured, and finishing messages does not compete with them.
        behaviour: { tpsLimit: LIMITED_TPS, dlrDelayMs: 600_000 },
      },
      // Latency keeps submits in flight and the DLR delay keeps messages waiting for reports when the server dies.
      { id: 'crash', dialect: 'generic', credentials, routes: [{ prefix: '4560' }], tps: 200, window: 50, dlrTimeoutSeconds: 600, behaviour: { latencyMs: 100, dlrDelayMs: 2000 } },
    ],
  });
});

after(async () => {
  await stack?.close();
  await server?.close();
});

async function send(to: string, body = 'production shape'): Promise<string> {
  const response = await request(`${stack.apiUrl}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, from: 'Acme', body }),
  });
  const answer = (await response.body.json()) as { messages?: { id: string }[] };
  assert.equal(response.statusCode, 202, JSON.stringify(answer));
  const id = answer.messages?.[0]?.id;
  assert.ok(id);
  return id;
}

async function settled(id: string): Promise<MessageView> {
  await stack.temporal.workflow.getHandle(id).result();
  return eventually(async () => {
    const response = await request(`${stack.apiUrl}/v1/messages/${id}`, { headers: { authorization: `Bearer ${DEMO_API_KEY}` } });
    const view = (await response.body.json()) as MessageView;
    return FINAL.has(view.status) ? view : undefined;
  }, 30_000, `final status of ${id}`);
}

function statuses(view: MessageView): string[] {
  return view.events.map((event) => (event.providerId ? `${event.status}@${event.providerId}` : event.status));
}

async function received(): Promise<ReceivedSubmit[]> {
  const response = await request(`${stack.simulatorUrl}/_control/received`);
  return (await response.body.json()) as ReceivedSubmit[];
}

async function configure(provider: string, behaviour: Record<string, unknown>): Promise<void> {
  const response = await request(`${stack.simulatorUrl}/_control/${provider}`, { method: 'POST', body: JSON.stringify(behaviour) });
  assert.equal(response.statusCode, 200);
  await response.body.dump();
}

describe('the production shape', () => {
  test('one message end to end: submitted once by a worker process, its DLR through the API process, delivered', async () => {
    const id = await send('+4530123400');
    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    assert.deepEqual(statuses(view), ['accepted', 'routed@first', 'submitted@first', 'delivered@first']);
    const submits = (await received()).filter((entry) => entry.submit.reference === id);
    assert.equal(submits.length, 1);
    assert.equal(view.providerMessageId, submits[0]?.providerMessageIds[0]);
  });

  test('delivery reports posted by the provider process move the message through enroute to delivered', async () => {
    const id = await send('+4540123400');
    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    assert.deepEqual(statuses(view), ['accepted', 'routed@reports', 'submitted@reports', 'enroute@reports', 'delivered@reports']);
  });

  test('a permanent error at the first provider fails over to the second, which delivers', async () => {
    await configure('first', { failNext: { failure: 'invalid_number', count: 1 } });
    const id = await send('+4530123401');
    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    assert.deepEqual(statuses(view), ['accepted', 'routed@first', 'attempt_failed@first', 'routed@second', 'submitted@second', 'delivered@second']);
    assert.deepEqual(
      (await received()).filter((entry) => entry.submit.reference === id).map((entry) => `${entry.provider}:${entry.outcome}`),
      ['first:invalid_number', 'second:accepted'],
    );
  });

  test(`two worker processes together keep one provider within its ${LIMITED_TPS} TPS, and it never answers 429`, async () => {
    // The queue is held while the backlog builds, so the measurement starts from warm pollers in
    // both processes, not from how fast this machine routes messages.
    await setQueueRate('limited', 0);
    const ids = await Promise.all(Array.from({ length: RATE_MESSAGES }, (_, index) => send(`+4550${String(120000 + index)}`, `rate ${index}`)));
    await everyMessageRouted(stack.temporal, ids);
    await setQueueRate('limited', dispatchRate(LIMITED_TPS, stack.config.DISPATCH_HEADROOM));
    const limited = await eventually(async () => {
      const entries = (await received()).filter((entry) => entry.provider === 'limited');
      return entries.filter((entry) => entry.outcome === 'accepted').length >= RATE_MESSAGES ? entries : undefined;
    }, 120_000, 'every submit at the provider');
    const accepted = limited.filter((entry) => entry.outcome === 'accepted');
    const throttled = limited.filter((entry) => entry.outcome === 'throttled');
    assert.equal(accepted.length, RATE_MESSAGES, 'every message submitted once');
    assert.deepEqual(new Set(accepted.map((entry) => entry.submit.reference)), new Set(ids));

    const { measuredTps, sustainedTps } = submitRates(accepted.map((entry) => entry.receivedAt));
    console.log(
      `production shape rate limit: configured ${LIMITED_TPS} TPS; measured ${measuredTps.toFixed(2)} TPS (ratio ${(measuredTps / LIMITED_TPS).toFixed(3)}), ` +
        `sustained ${sustainedTps.toFixed(2)} TPS after the first second (ratio ${(sustainedTps / LIMITED_TPS).toFixed(3)}); 429 answers: ${throttled.length}`,
    );
    assert.equal(throttled.length, 0, 'the simulator answered no 429');
    // Held: the two processes together never go over the contract. How close below it they get
    // depends on what else this shared machine runs next to the full server and four processes, so
    // the lower bound only says dispatch runs near the server's rate, not far below it.
    assert.ok(measuredTps <= LIMITED_TPS * 1.1 && sustainedTps <= LIMITED_TPS * 1.1, `over the limit: ${measuredTps} / ${sustainedTps} TPS`);
    assert.ok(measuredTps >= LIMITED_TPS * 0.6, `far below the limit: ${measuredTps} TPS`);
  });

  test('with every worker process killed the API still accepts; restarted workers deliver what waited', async () => {
    await Promise.all(stack.workers.map((_, index) => stack.kill('workers', index)));
    const id = await send('+4530123402');
    assert.equal((await stack.db.message.findUnique({ where: { id } }))?.status ?? 'accepted', 'accepted', 'nothing routed it while no worker ran');
    await Promise.all(stack.workers.map((_, index) => stack.restart('workers', index)));
    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    assert.deepEqual(statuses(view), ['accepted', 'routed@first', 'submitted@first', 'delivered@first']);
  });

  test(`kill -9 of the Temporal server with ${CRASH_MESSAGES} messages in flight, restarted on the same PostgreSQL databases: every message final, none twice`, async () => {
    const ids: string[] = [];
    const to = numbers('4560', CRASH_MESSAGES);
    for (let start = 0; start < to.length; start += 100) {
      const answer = await postBatch(stack, to.slice(start, start + 100).map((number) => ({ to: number })));
      assert.ok(!(answer instanceof Error) && answer.statusCode === 202, String(answer instanceof Error ? answer : answer.statusCode));
      ids.push(...answer.ids.values());
    }
    await eventually(async () => ((await receivedFor(stack, ids)).length >= CRASH_MESSAGES / 3 ? true : undefined), 120_000, 'a third submitted');
    const inFlight = ids.length - (await finalCount(stack, ids));
    await server.kill();
    await new Promise((resolve) => setTimeout(resolve, CRASH_DOWN_MS));
    const restartedAt = Date.now();
    await server.start();
    const recovered = await settle(stack, ids, restartedAt, Math.max(240_000, CRASH_MESSAGES * 400));
    const result = await figures(stack, ids);
    report('Temporal server (PostgreSQL) kill -9', result, recovered, `in flight when killed ${inFlight}; down ${CRASH_DOWN_MS / 1000} s`);
    assertNothingLost(result);
  });
});

/** The queue's server-side limit, as DispatchWorkers sets it; 0 holds the queue. */
async function setQueueRate(provider: string, requestsPerSecond: number): Promise<void> {
  await stack.temporal.connection.workflowService.updateTaskQueueConfig({
    namespace: stack.config.TEMPORAL_NAMESPACE,
    identity: 'production-shape-test',
    taskQueue: providerTaskQueue(provider),
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    updateQueueRateLimit: { rateLimit: { requestsPerSecond }, reason: 'production-shape test' },
  });
}

/** A namespace registered without search attributes, once the frontend serves it. */
async function newNamespace(purpose: string): Promise<string> {
  const namespace = `${purpose}_${randomBytes(3).toString('hex')}`;
  await ensureNamespace(stack.connection, namespace);
  // A new namespace reaches the frontend's cache a moment later; until then calls in it see NotFound.
  await eventually(
    () => stack.connection.operatorService.listSearchAttributes({ namespace }).then(() => true, () => undefined),
    30_000,
    `namespace ${namespace} served`,
  );
  return namespace;
}

describe('start-up checks of the API and the workers', () => {
  /** Starts one part against `namespace` and returns the one line it exits with. */
  async function exitLine(name: PartName, namespace: string): Promise<string> {
    const part = new PartProcess(name, { env: { ...stack.env, API_PORT: '0', TEMPORAL_NAMESPACE: namespace } });
    const failure = await part.start().then(
      () => undefined,
      (error: unknown) => error,
    );
    await part.stop(5_000);
    assert.ok(failure instanceof PartStartError, `${name} started against namespace ${namespace}`);
    const lines = failure.output.split('\n').filter((line) => line.trim() !== '');
    assert.equal(lines.length, 1, `${name} printed exactly one line: ${failure.output}`);
    assert.notEqual(await part.exited.then((exit) => exit.code), 0);
    return lines[0] ?? '';
  }

  test('without the namespace, each exits with one line naming it', async () => {
    const namespace = `missing_${randomBytes(3).toString('hex')}`;
    for (const part of ['api', 'workers'] as const) {
      assert.match(await exitLine(part, namespace), new RegExp(`namespace "${namespace}" does not exist; run the setup step`));
    }
  });

  test('with the namespace but not the search attributes, each exits with one line naming every missing one', async () => {
    const namespace = await newNamespace('bare');
    for (const part of ['api', 'workers'] as const) {
      assert.match(await exitLine(part, namespace), /lacks the search attributes SmsStatus, SmsProvider, SmsCountry, SmsAccount; run the setup step/);
    }
  });
});

describe('the setup step', () => {
  test('creates only what is missing: run twice, the second run changes nothing, and a search attribute already there is kept', async () => {
    const namespace = await newNamespace('partial');
    await stack.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: { SmsStatus: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
    });
    const config = loadConfig({ ...stack.env, TEMPORAL_NAMESPACE: namespace });
    const firstRun: string[] = [];
    await runSetup(config, (line) => firstRun.push(line));
    assert.ok(firstRun.includes('No pending migrations'), firstRun.join('\n'));
    assert.ok(!firstRun.some((line) => line.startsWith('Created Temporal namespace')), 'the namespace existed');
    assert.ok(firstRun.includes('Added search attributes SmsProvider, SmsCountry, SmsAccount'), firstRun.join('\n'));
    await assertTemporalSetUp(stack.connection, namespace);

    const secondRun: string[] = [];
    await runSetup(config, (line) => secondRun.push(line));
    assert.ok(secondRun.includes('Search attributes already registered'), secondRun.join('\n'));
    assert.ok(!secondRun.some((line) => line.startsWith('Created') || line.startsWith('Added') || line.startsWith('Applying')), secondRun.join('\n'));
  });
});
