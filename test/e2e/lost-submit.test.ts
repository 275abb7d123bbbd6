import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NativeConnection } from '@temporalio/worker';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { providerTaskQueue } from '../../src/domain/dispatch';
import { SuppressionList } from '../../src/inbound/suppression';
import { createLogger } from '../../src/logger';
import { DispatchWorkers } from '../../src/workers/dispatch';
import { recordHistoryIfAsked } from '../support/histories';
import { eventually, startStack, type TestStack } from '../support/stack';

/**
 * The race behind "a provider's tps/window changed just before a burst: 3 of 1,500 ended unknown,
 * never sent": replacing a dispatch worker drops its pollers, and a task the server hands to a poll
 * that is going away is recorded as started but never runs. The attempt then times out although
 * nothing left the worker. Here a poll takes the task and drops it, exactly as a vanishing poller does.
 */
const credentials = { apiKey: 'k', dlrSecret: 'dlr' };

let stack: TestStack;
let connection: NativeConnection;
let dispatch: DispatchWorkers | undefined;

before(async () => {
  // The stack's own workers route and record but poll no provider queue: the test decides who does.
  stack = await startStack({ dispatch: false, env: { SUBMIT_TIMEOUT_SECONDS: '2' } });
  await stack.addProvider({ id: 'lossy', dialect: 'generic', credentials, routes: [{ prefix: '4562' }], behaviour: { latencyMs: 1_500 } });
  connection = await NativeConnection.connect({ address: stack.config.TEMPORAL_ADDRESS });
});

after(async () => {
  await dispatch?.shutdown();
  await connection?.close();
  await stack?.close();
});

async function send(to: string): Promise<string> {
  const response = await request(`${stack.api.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, from: 'Acme', body: 'lost submit' }),
  });
  assert.equal(response.statusCode, 202);
  const answer = (await response.body.json()) as { messages: { id: string }[] };
  return answer.messages[0]?.id ?? '';
}

/** A dispatch worker set polling every enabled provider, as a new worker process would. */
async function replaceDispatchWorkers(): Promise<void> {
  await dispatch?.shutdown();
  dispatch = new DispatchWorkers(
    { connection, namespace: stack.config.TEMPORAL_NAMESPACE },
    { db: stack.db, catalog: stack.workers.catalog, suppressions: new SuppressionList(stack.db), publicBaseUrl: stack.config.PUBLIC_BASE_URL, submitTimeoutMs: stack.config.SUBMIT_TIMEOUT_SECONDS * 1000 },
    createLogger('warn', 'test'),
    stack.config.DISPATCH_HEADROOM,
  );
  await dispatch.sync((await stack.workers.catalog.refresh()).providers.values());
}

test('a submit task taken by a poller that went away is known unsent: retried and delivered once, not unknown', async () => {
  const id = await send('+4562123401');
  const stolen = await stack.temporal.connection.withDeadline(Date.now() + 30_000, () =>
    stack.temporal.connection.workflowService.pollActivityTaskQueue({
      namespace: stack.config.TEMPORAL_NAMESPACE,
      taskQueue: { name: providerTaskQueue('lossy') },
      identity: 'a dispatch worker being replaced',
    }),
  );
  assert.equal(stolen.workflowExecution?.workflowId, id, 'the poll took this message’s submit');

  // The task is dropped; a new dispatch worker polls the queue from now on.
  await replaceDispatchWorkers();

  await stack.temporal.workflow.getHandle(id).result();
  const message = await stack.db.message.findUniqueOrThrow({ where: { id }, include: { events: { orderBy: { sequence: 'asc' } } } });
  assert.equal(message.status, 'delivered');
  assert.equal(stack.simulator.acceptedFor(id).length, 1);
  assert.deepEqual(
    message.events.map((event) => `${event.status}${event.errorCode ? `:${event.errorCode}` : ''}`),
    ['accepted', 'routed', 'attempt_failed:submit_not_sent', 'submitted', 'delivered'],
  );
  recordHistoryIfAsked(stack.config.TEMPORAL_ADDRESS, id, 'lost-submit-task-retried');
});

test('replacing a dispatch worker drains the submits in flight: each is delivered once, none unknown', async () => {
  const ids = await Promise.all(['+4562123411', '+4562123412', '+4562123413', '+4562123414'].map(send));
  // Every submit has reached the provider, which holds its answer for 1.5 s.
  await eventually(async () => (ids.every((id) => stack.simulator.submitsFor(id).length === 1) ? true : undefined), 20_000, 'submits in flight');
  await stack.db.provider.update({ where: { id: 'lossy' }, data: { window: 3, tps: 20 } });
  await dispatch?.sync((await stack.workers.catalog.refresh()).providers.values());

  for (const id of ids) await stack.temporal.workflow.getHandle(id).result();
  const rows = await stack.db.message.findMany({ where: { id: { in: ids } }, select: { status: true } });
  assert.deepEqual(rows.map((row) => row.status), ids.map(() => 'delivered'));
  assert.deepEqual(ids.map((id) => stack.simulator.acceptedFor(id).length), ids.map(() => 1));
  await eventually(async () => (dispatch?.providerIds.includes('lossy') ? true : undefined), 10_000, 'the new dispatch worker');
});
