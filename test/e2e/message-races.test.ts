/**
 * Races and edge paths of the message workflow, on a real Temporal dev server and PostgreSQL with
 * the real routing and status activities, and stub submits and client callbacks the test controls.
 * (`@temporalio/testing`'s time-skipping server cannot be downloaded on this machine, so durations
 * are kept to seconds instead.) With RECORD_HISTORIES_DIR set, each scenario's history is written
 * there for the replay test (scripts/record-histories.ts does that).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { createRouterActivities } from '../../src/activities';
import { claimSubmitAttempt } from '../../src/activities/submit-attempts';
import { loadConfig, messagePolicyFrom } from '../../src/config';
import { DEMO_ACCOUNT_ID, seedDemoAccount } from '../../src/dev/seed';
import type { DevServer } from '../../src/dev/temporal-server';
import { CALLBACKS_TASK_QUEUE, providerTaskQueue, ROUTER_TASK_QUEUE, SUBMIT_FAILURE, type SubmitInput, type SubmitResult } from '../../src/domain/dispatch';
import type { ClientNotification, MessagePolicy, MessageRequest, StatusChange } from '../../src/domain/message';
import { isFinalStatus } from '../../src/domain/status';
import { RoutingCatalog } from '../../src/routing/catalog';
import { installTemporalRuntime } from '../../src/workers/runtime';
import { workflowBundleSettings } from '../../src/workers/workflow-bundle';
import { cancelUpdate, clientCallbacksWorkflowId, deliveryReportSignal, messageWorkflow } from '../../src/workflows';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { recordHistoryIfAsked } from '../support/histories';
import { eventually, startTestDevServer } from '../support/stack';

/** Providers by destination prefix; `unpolled` has no dispatch worker, as a provider just disabled. */
const PROVIDERS = [
  { id: 'main', routes: [{ prefix: '4570', priority: 0 }, { prefix: '4573', priority: 1 }], dlrTimeoutSeconds: 30 },
  { id: 'backup', routes: [{ prefix: '4570', priority: 1 }, { prefix: '4571', priority: 1 }, { prefix: '4572', priority: 1 }], dlrTimeoutSeconds: 30 },
  { id: 'quick', routes: [{ prefix: '4571', priority: 0 }], dlrTimeoutSeconds: 2 },
  { id: 'unpolled', routes: [{ prefix: '4572', priority: 0 }, { prefix: '4573', priority: 0 }], dlrTimeoutSeconds: 30 },
] as const;
const POLLED = ['main', 'backup', 'quick'];

let server: DevServer;
let database: TestDatabase;
let native: NativeConnection;
let client: Client;
let stopWorkers: () => Promise<void>;

/** Every submit the stub received, and how it answers: by destination number, else accepted. */
const submits: SubmitInput[] = [];
const submitAnswers = new Map<string, (input: SubmitInput) => Promise<SubmitResult>>();
const notifications: ClientNotification[] = [];
/** Held activities: a routing look-up for a number, or the final status write of a message. */
const routingHolds = new Map<string, Hold>();
const finalWriteHolds = new Map<string, Hold>();

interface Hold {
  readonly entered: Promise<void>;
  release(): void;
  wait(): Promise<void>;
}

function hold(): Hold {
  let enter = () => {};
  let release = () => {};
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    entered,
    release,
    async wait() {
      enter();
      await released;
    },
  };
}

/** The stub marks its attempt as the real activity does, then "sends": the mark is what fencing reads. */
async function stubSubmit(input: SubmitInput): Promise<SubmitResult> {
  submits.push(input);
  if (input.attempt !== undefined && !(await claimSubmitAttempt(database.db, { messageId: input.sms.messageId, attempt: input.attempt }))) {
    throw ApplicationFailure.create({ type: SUBMIT_FAILURE.permanent, message: 'attempt fenced', nonRetryable: true, details: ['attempt_fenced'] });
  }
  const answer = submitAnswers.get(input.sms.to);
  return answer ? answer(input) : { providerMessageIds: [`pm-${input.sms.messageId}-${input.attempt}`] };
}

before(async () => {
  installTemporalRuntime();
  database = await createTestDatabase('races');
  await seedDemoAccount(database.db);
  for (const provider of PROVIDERS) {
    await database.db.provider.create({
      data: { id: provider.id, adapter: 'generic', baseUrl: 'http://127.0.0.1:9', tps: 100, window: 10, dlrTimeoutSeconds: provider.dlrTimeoutSeconds },
    });
    await database.db.route.createMany({
      data: provider.routes.map((route) => ({ id: `${provider.id}-${route.prefix}`, prefix: route.prefix, providerId: provider.id, priority: route.priority })),
    });
  }
  server = await startTestDevServer();
  native = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection: await Connection.connect({ address: server.address }) });

  const real = createRouterActivities(database.db, new RoutingCatalog(database.db));
  const workflowBundle = await bundleWorkflowCode({ ...workflowBundleSettings(false), logger: new DefaultLogger('WARN') });
  const workers = [
    await Worker.create({
      connection: native,
      taskQueue: ROUTER_TASK_QUEUE,
      workflowBundle,
      activities: {
        ...real,
        async routeMessage(input: Parameters<typeof real.routeMessage>[0]) {
          await routingHolds.get(input.query.to)?.wait();
          return real.routeMessage(input);
        },
        async recordStatus(changes: readonly StatusChange[]) {
          const final = changes.find((change) => isFinalStatus(change.status));
          if (final) await finalWriteHolds.get(final.messageId)?.wait();
          return real.recordStatus(changes);
        },
      },
    }),
    ...(await Promise.all(
      POLLED.map((id) => Worker.create({ connection: native, taskQueue: providerTaskQueue(id), activities: { submitToProvider: stubSubmit } })),
    )),
    await Worker.create({
      connection: native,
      taskQueue: CALLBACKS_TASK_QUEUE,
      activities: {
        async notifyClient(input: { notification: ClientNotification }) {
          notifications.push(input.notification);
        },
      },
    }),
  ];
  const runs = workers.map((worker) => worker.run());
  stopWorkers = async () => {
    for (const worker of workers) worker.shutdown();
    await Promise.all(runs);
  };
});

after(async () => {
  await stopWorkers?.();
  await native?.close();
  await client?.connection.close();
  await server?.stop();
  await database?.drop();
});

const basePolicy = messagePolicyFrom(loadConfig({}));
const EventType = temporal.api.enums.v1.EventType;
type EventType = temporal.api.enums.v1.EventType;

interface StartOptions {
  readonly messageId?: string;
  readonly callbackUrl?: string;
  readonly validForMs?: number;
  readonly policy?: Partial<MessagePolicy>;
}

async function startMessage(to: string, options: StartOptions = {}): Promise<WorkflowHandle<typeof messageWorkflow>> {
  const request: MessageRequest = {
    messageId: options.messageId ?? randomUUID(),
    accountId: DEMO_ACCOUNT_ID,
    to,
    country: 'DK',
    from: 'Acme',
    body: 'race',
    encoding: 'gsm7',
    segments: 1,
    callbackUrl: options.callbackUrl,
    acceptedAt: new Date().toISOString(),
    validUntil: options.validForMs ? new Date(Date.now() + options.validForMs).toISOString() : undefined,
    policy: { ...basePolicy, ...options.policy },
  };
  return client.workflow.start(messageWorkflow, {
    taskQueue: ROUTER_TASK_QUEUE,
    workflowId: request.messageId,
    args: [request],
    // A long local activity lets the workflow see signals and updates meanwhile once its task is
    // heartbeated, at 80 % of this: short, so the races below need not wait long for it.
    workflowTaskTimeout: '2 seconds',
  });
}

function submitsOf(messageId: string): string[] {
  return submits.filter((input) => input.sms.messageId === messageId).map((input) => input.providerId);
}

async function eventsOf(messageId: string): Promise<string[]> {
  const events = await database.db.messageEvent.findMany({ where: { messageId }, orderBy: { sequence: 'asc' } });
  return events.map((event) => `${event.status}${event.providerId ? `@${event.providerId}` : ''}${event.errorCode ? `:${event.errorCode}` : ''}`);
}

function recordHistory(handle: WorkflowHandle, name: string): void {
  recordHistoryIfAsked(server.address, handle.workflowId, name);
}

/** Plays the provider: once the message is submitted, its delivery report arrives. */
async function deliverWhenSubmitted(handle: WorkflowHandle<typeof messageWorkflow>): Promise<void> {
  const id = handle.workflowId;
  const message = await eventually(async () => {
    const row = await database.db.message.findUnique({ where: { id } });
    return row?.status === 'submitted' ? row : undefined;
  }, 20_000, `${id} submitted`);
  await handle.signal(deliveryReportSignal, {
    providerId: message.providerId ?? '',
    report: { messageId: id, providerMessageId: message.providerMessageId ?? '', status: 'delivered', providerStatus: 'DELIVERED', occurredAt: new Date().toISOString() },
  });
}

async function historyHas(handle: WorkflowHandle, type: EventType): Promise<void> {
  await eventually(async () => ((await handle.fetchHistory()).events?.some((event) => event.eventType === type) ? true : undefined), 20_000, `a ${type} event`);
}

/** Waits until a workflow task has completed after the last event of this type. */
async function workflowTaskCompletedAfter(handle: WorkflowHandle, type: EventType): Promise<void> {
  await eventually(async () => {
    const events = (await handle.fetchHistory()).events ?? [];
    const last = events.findLastIndex((event) => event.eventType === type);
    return last >= 0 && events.slice(last + 1).some((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) ? true : undefined;
  }, 20_000, 'a workflow task after the event');
}

/** The message ended `unknown` after an ambiguous submit, which went to this provider only. */
async function assertUnknownSentOnceTo(handle: WorkflowHandle<typeof messageWorkflow>, providerId: string): Promise<void> {
  const outcome = await handle.result();
  assert.equal(outcome.status, 'unknown');
  assert.equal(outcome.errorCode, 'ambiguous_submit');
  assert.deepEqual(submitsOf(handle.workflowId), [providerId]);
}

function ambiguous(): Promise<SubmitResult> {
  throw ApplicationFailure.create({ type: SUBMIT_FAILURE.ambiguous, message: 'request sent, no answer', nonRetryable: true, details: ['ambiguous'] });
}

describe('cancel', () => {
  test('a cancel answered `cancelled` while the route is looked up means nothing is sent', async () => {
    const to = '+4570000001';
    const routing = hold();
    routingHolds.set(to, routing);
    const handle = await startMessage(to);
    await routing.entered;
    const answer = await handle.executeUpdate(cancelUpdate);
    routing.release();
    const outcome = await handle.result();
    assert.deepEqual(answer, { cancelled: true, status: 'cancelled' });
    assert.equal(outcome.status, 'cancelled');
    assert.deepEqual(submitsOf(handle.workflowId), []);
    assert.deepEqual(await eventsOf(handle.workflowId), ['accepted', 'routed@main', 'cancelled']);
    recordHistory(handle, 'cancelled-while-routing');
  });

  test('a cancel while the submit waits in the queue of a provider nobody polls takes it back: cancelled, nothing sent', async () => {
    const handle = await startMessage('+4573000002');
    await historyHas(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
    assert.deepEqual(await handle.executeUpdate(cancelUpdate), { cancelled: true, status: 'cancelled' });
    assert.equal((await handle.result()).status, 'cancelled');
    assert.deepEqual(submitsOf(handle.workflowId), []);
    assert.deepEqual(await eventsOf(handle.workflowId), ['accepted', 'routed@unpolled', 'cancelled']);
    recordHistory(handle, 'cancelled-while-queued');
  });

  test('a cancel while a worker runs the submit is refused once the submit has ended, and the message goes on', async () => {
    const to = '+4570000004';
    const sending = hold();
    submitAnswers.set(to, async (input) => {
      await sending.wait();
      return { providerMessageIds: [`pm-${input.sms.messageId}-${input.attempt}`] };
    });
    const handle = await startMessage(to);
    await sending.entered;
    const answer = handle.executeUpdate(cancelUpdate);
    // The update waits for the submit in flight; it ends sent.
    await historyHas(handle, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
    sending.release();
    assert.deepEqual(await answer, { cancelled: false, status: 'routed' });
    await deliverWhenSubmitted(handle);
    assert.equal((await handle.result()).status, 'delivered');
    assert.deepEqual(submitsOf(handle.workflowId), ['main']);
    recordHistory(handle, 'cancel-refused-while-sending');
  });
});

describe('delivery reports', () => {
  test('a report after `unknown`, once the callbacks workflow has ended, reaches the client and the message ends normally', async () => {
    const to = '+4570000002';
    submitAnswers.set(to, ambiguous);
    const handle = await startMessage(to, { callbackUrl: 'http://client.invalid/sms', policy: { callbackIdleSeconds: 1 } });
    const id = handle.workflowId;
    await eventually(async () => ((await database.db.message.findUnique({ where: { id } }))?.status === 'unknown' ? true : undefined), 20_000, 'unknown');
    // The callbacks workflow ends a (here short) while after the final `unknown`.
    await client.workflow.getHandle(clientCallbacksWorkflowId(id)).result();

    await handle.signal(deliveryReportSignal, {
      providerId: 'main',
      report: { messageId: id, providerMessageId: 'late-1', status: 'delivered', providerStatus: 'DELIVERED', occurredAt: new Date().toISOString() },
    });
    const outcome = await handle.result();
    assert.equal(outcome.status, 'delivered');
    await eventually(async () => (notifications.some((n) => n.id === id && n.status === 'delivered') ? true : undefined), 20_000, 'the late report’s callback');
    assert.deepEqual(
      notifications.filter((n) => n.id === id).map((n) => n.status),
      ['accepted', 'routed', 'unknown', 'delivered'],
    );
    assert.deepEqual(submitsOf(id), ['main']);
    recordHistory(handle, 'late-report-after-callbacks-ended');
  });

  test('a report signalled while the final status is written is stored, not dropped', async () => {
    const to = '+4571000003';
    const handle = await startMessage(to);
    const id = handle.workflowId;
    const finalWrite = hold();
    finalWriteHolds.set(id, finalWrite);
    // No report within the provider's (2 s) DLR timeout: the workflow writes `unknown`…
    await finalWrite.entered;
    // …slowly: the task's heartbeat lets the workflow take signals while it writes.
    await workflowTaskCompletedAfter(handle, EventType.EVENT_TYPE_MARKER_RECORDED);
    await handle.signal(deliveryReportSignal, {
      providerId: 'quick',
      report: { messageId: id, providerMessageId: `pm-${id}-1`, status: 'delivered', providerStatus: 'DELIVERED', occurredAt: new Date().toISOString() },
    });
    // Acknowledged, and handed to the workflow, while it is still writing `unknown`.
    await workflowTaskCompletedAfter(handle, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
    finalWrite.release();

    assert.equal((await handle.result()).status, 'unknown');
    // Kept for the reconciler, which applies a late final report to an `unknown` message.
    const stored = await database.db.deliveryReport.findMany({ where: { messageId: id } });
    assert.deepEqual(stored.map((row) => `${row.providerId}:${row.status}:${row.reason}`), ['quick:delivered:finished']);
    recordHistory(handle, 'report-during-final-write-kept');
  });
});

describe('submit outcomes', () => {
  test('an unclassified failure after the request left is ambiguous: no failover, sent once', async () => {
    const to = '+4571000001';
    submitAnswers.set(to, async () => {
      throw new TypeError('cannot read the provider’s 2xx answer');
    });
    const handle = await startMessage(to);
    await assertUnknownSentOnceTo(handle, 'quick');
    recordHistory(handle, 'unclassified-failure-after-send-ambiguous');
  });

  test('a submit that times out after its mark stays ambiguous and is not resent', async () => {
    const to = '+4571000002';
    // Answers long after the attempt's start-to-close (1 s request + slack): the workflow has moved on.
    submitAnswers.set(to, () => new Promise<SubmitResult>((resolve) => setTimeout(() => resolve({ providerMessageIds: ['too-late'] }), 6_000)));
    const handle = await startMessage(to, { policy: { submit: { ...basePolicy.submit, timeoutSeconds: 1 } } });
    await assertUnknownSentOnceTo(handle, 'quick');
    recordHistory(handle, 'timed-out-after-mark-ambiguous');
  });

  test('a submit waiting in the queue of a provider nobody polls fails over once its queue time is up; nothing was sent', async () => {
    const handle = await startMessage('+4572000001', { policy: { submit: { ...basePolicy.submit, queueTimeoutSeconds: 2 } } });
    await deliverWhenSubmitted(handle);
    const outcome = await handle.result();
    assert.equal(outcome.status, 'delivered');
    assert.equal(outcome.providerId, 'backup');
    assert.deepEqual(submitsOf(handle.workflowId), ['backup']);
    assert.deepEqual(await eventsOf(handle.workflowId), [
      'accepted',
      'routed@unpolled',
      'attempt_failed@unpolled:queue_timeout',
      'routed@backup',
      'submitted@backup',
      'delivered@backup',
    ]);
    recordHistory(handle, 'queue-timeout-failover');
  });

  test('a submit queued past the message’s validity ends it expired, nothing sent', async () => {
    const handle = await startMessage('+4573000001', { validForMs: 3_000 });
    const outcome = await handle.result();
    assert.equal(outcome.status, 'expired');
    assert.deepEqual(submitsOf(handle.workflowId), []);
    recordHistory(handle, 'queued-past-validity-expired');
  });
});

describe('duplicates', () => {
  test('a workflow for an id whose message row belongs to another run sends nothing and ends as a duplicate', async () => {
    const messageId = randomUUID();
    await database.db.message.create({
      data: {
        id: messageId,
        accountId: DEMO_ACCOUNT_ID,
        to: '+4570000009',
        from: 'Acme',
        body: 'sent long ago',
        encoding: 'gsm7',
        segments: 1,
        status: 'delivered',
        runId: 'a run Temporal has forgotten',
        events: { create: [{ sequence: 1, status: 'accepted', occurredAt: new Date() }] },
      },
    });
    const handle = await startMessage('+4570000009', { messageId });
    const outcome = await handle.result();
    assert.equal(outcome.status, 'delivered');
    assert.equal(outcome.errorCode, 'duplicate_message');
    assert.deepEqual(submitsOf(messageId), []);
    assert.deepEqual(await eventsOf(messageId), ['accepted']);
    const row = await database.db.message.findUniqueOrThrow({ where: { id: messageId } });
    assert.equal(row.body, 'sent long ago');
    recordHistory(handle, 'duplicate-of-forgotten-message');
  });
});
