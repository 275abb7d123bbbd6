import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, type ConnectionLike, type WorkflowClientInterceptor } from '@temporalio/client';
import pino from 'pino';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { type Prisma } from '../../src/generated/prisma/client';
import type { DeliveryReport } from '../../src/providers/types';
import { DeliveryReportReconciler, type ReconcilerOptions } from '../../src/reconciler/delivery-reports';
import { connectTemporalClient } from '../../src/temporal/connect';
import { DEFAULT_MESSAGE_POLICY } from '../../src/client/request';
import { eventually, startStack, type TestStack } from '../support/stack';
import { createFinishedMessages, deliveredReport as deliveredReportOf, storedReportRow } from '../support/stored-reports';

const credentials = { apiKey: 'k', dlrSecret: 'dlr-secret' };
const PROVIDER = 'waiting';
/** A guard that only says "it returned at all": the bug it catches made submits take 40 s. */
const LIVENESS_MS = 20_000;

let stack: TestStack;

before(async () => {
  stack = await startStack();
  // Holds every DLR back, so messages stay `submitted` until a stored report settles them.
  await stack.addProvider({
    id: PROVIDER,
    dialect: 'generic',
    credentials,
    routes: [{ prefix: '4570' }],
    tps: 400,
    window: 100,
    dlrTimeoutSeconds: 600,
    behaviour: { dlrDelayMs: 3_600_000 },
  });
});

after(async () => {
  await stack?.close();
});

async function withinGuard<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not return within ${LIVENESS_MS} ms`)), LIVENESS_MS);
  });
  try {
    return await Promise.race([work, guard]);
  } finally {
    clearTimeout(timer);
  }
}

async function submit(recipients: string[]): Promise<string[]> {
  const response = await request(`${stack.api.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ recipients, from: 'Acme', body: 'stored reports' }),
  });
  const body = (await response.body.json()) as { messages: { id: string }[] };
  assert.equal(response.statusCode, 202, JSON.stringify(body));
  return body.messages.map((message) => message.id);
}

/** Messages waiting for their DLR: submitted, with the provider's id known. */
async function waitingMessages(count: number, offset: number): Promise<{ id: string; providerMessageId: string }[]> {
  const to = Array.from({ length: count }, (_, index) => `+4570${String(100000 + offset + index)}`);
  const ids = await submit(to);
  const where = { id: { in: ids }, status: 'submitted' as const, providerMessageId: { not: null } };
  // Generous: this machine is shared, and a thousand workflows take their time on a busy one.
  try {
    await eventually(async () => ((await stack.db.message.count({ where })) === ids.length ? true : undefined), 400_000, `${count} messages submitted`);
  } catch (error) {
    const statuses = await stack.db.message.groupBy({ by: ['status'], where: { id: { in: ids } }, _count: true });
    throw new Error(`${error instanceof Error ? error.message : String(error)}; their statuses: ${JSON.stringify(statuses)}`);
  }
  const rows = await stack.db.message.findMany({ where, select: { id: true, providerMessageId: true } });
  return rows.map((row) => ({ id: row.id, providerMessageId: row.providerMessageId ?? '' }));
}

function deliveredReport(messageId: string, providerMessageId: string): DeliveryReport {
  return deliveredReportOf({ id: messageId, providerMessageId });
}

function storedRow(report: DeliveryReport): Prisma.DeliveryReportCreateManyInput {
  return storedReportRow(PROVIDER, report);
}

/** Signals each client sent, by workflow id: what a reconciler actually did to Temporal. */
function countingClient(connection: ConnectionLike, signals: Map<string, number>, failFor?: string): Client {
  const interceptor: WorkflowClientInterceptor = {
    async signal(input, next) {
      const id = input.workflowExecution.workflowId;
      if (id === failFor) throw new Error('simulated Temporal failure for this one workflow');
      signals.set(id, (signals.get(id) ?? 0) + 1);
      return next(input);
    },
  };
  return new Client({ connection, interceptors: { workflow: [interceptor] } });
}

const reconcilerOptions: ReconcilerOptions = {
  intervalMs: 200,
  passSpacingMs: 25,
  giveUpAfterMs: 24 * 3600_000,
  retryDelayMs: 100,
  maxRetryDelayMs: 1000,
  maxAttempts: 3,
  leaseMs: 60_000,
  drainTimeoutMs: 2000,
  policy: { ...DEFAULT_MESSAGE_POLICY, callbackRetrySeconds: 60 },
};

describe('stored delivery reports', () => {
  test('hostile reports are refused at the webhook with 400, and none is stored', async () => {
    const before = await stack.db.deliveryReport.count();
    const hostile: unknown[] = [
      { id: 'p-1', reference: 'x'.repeat(100_000), status: 'delivered' },
      { id: 'p-1', reference: 'not-one-of-ours', status: 'delivered' },
      { id: 'p\u0000-1', status: 'delivered' },
      { id: 'p-1', reference: 42, status: 'delivered' },
      { id: 'p-1', status: { $gt: '' } },
      { id: 'y'.repeat(100_000), status: 'delivered' },
    ];
    for (const payload of hostile) {
      const response = await request(`${stack.api.url}/v1/dlr/${PROVIDER}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-dlr-secret': credentials.dlrSecret },
        body: JSON.stringify(payload),
      });
      const text = await response.body.text();
      assert.equal(response.statusCode, 400, text.slice(0, 200));
      assert.ok(text.length < 500, 'the refusal does not echo the hostile value');
    }
    assert.equal(await stack.db.deliveryReport.count(), before);
  });

  test('with a poisoned row and other hostile shapes stored, submits are accepted and the other stored reports settle', async () => {
    const waiting = await waitingMessages(3, 0);
    const hostile: Prisma.DeliveryReportCreateManyInput[] = [
      // The report from the incident: a 100,000-character message reference.
      { ...storedRow(deliveredReport('x'.repeat(100_000), 'p-huge')), payload: { ...deliveredReport('x'.repeat(100_000), 'p-huge') } },
      // No reference, and a provider id no column or signal should carry.
      { ...storedRow({ ...deliveredReport(randomUUID(), 'z'.repeat(100_000)), messageId: undefined }), messageId: null },
      // Wrong JSON types where the payload should have strings.
      { ...storedRow(deliveredReport(randomUUID(), 'p-types')), payload: { providerMessageId: 42, status: ['delivered'], occurredAt: {} } },
      { ...storedRow(deliveredReport(randomUUID(), 'p-array')), payload: ['not', 'a', 'report'] },
      // A stored reference that is not one of our ids (NUL bytes cannot be stored: PostgreSQL refuses them).
      { ...storedRow(deliveredReport(randomUUID(), 'p-not-ours')), messageId: 'order-42' },
    ];
    await stack.db.deliveryReport.createMany({ data: hostile });
    await stack.db.deliveryReport.createMany({ data: waiting.map((message) => storedRow(deliveredReport(message.id, message.providerMessageId))) });

    for (let index = 0; index < 5; index += 1) {
      const [id] = await withinGuard(submit([`+4570${String(900000 + index)}`]), 'a submit with the poisoned row stored');
      assert.ok(id);
    }
    await eventually(
      async () => {
        const delivered = await stack.db.message.count({ where: { id: { in: waiting.map((message) => message.id) }, status: 'delivered' } });
        return delivered === waiting.length ? true : undefined;
      },
      60_000,
      'the valid stored reports to settle their messages',
    );
    const parked = await eventually(async () => {
      const rows = await stack.db.deliveryReport.findMany({ where: { parkedAt: { not: null }, providerMessageId: { in: ['p-huge', 'z'.repeat(100_000), 'p-types', 'p-array', 'p-not-ours'] } } });
      return rows.length === hostile.length ? rows : undefined;
    }, 30_000, 'every hostile row parked');
    assert.ok(parked.every((row) => row.processedAt === null && (row.lastError ?? '').length > 0 && (row.lastError ?? '').length < 1000));

    const metrics = await (await request(`${stack.api.opsUrl}/metrics`)).body.text();
    const parkedGauge = /^smsrouter_stored_delivery_reports_parked (\d+)$/m.exec(metrics);
    assert.ok(Number(parkedGauge?.[1]) >= hostile.length, 'parked rows are counted in /metrics');
    assert.match(metrics, /^smsrouter_stored_delivery_reports_backlog \d+$/m);
    assert.match(metrics, /^smsrouter_stored_delivery_reports_oldest_age_seconds [\d.e+-]+$/m);
  });

  test("the workers' shutdown returns with the poisoned row stored, and they start again", async () => {
    await stack.db.deliveryReport.create({ data: storedRow(deliveredReport(randomUUID(), 'p-restart')) });
    await stack.db.deliveryReport.create({ data: { ...storedRow(deliveredReport(randomUUID(), 'p-poison-2')), messageId: 'x'.repeat(100_000) } });
    await withinGuard(stack.restartWorkers(), 'workers shutdown and restart');
    const [id] = await withinGuard(submit(['+4570999999']), 'a submit after the restart');
    assert.ok(id);
  });
});

describe('draining a backlog', () => {
  test('2,000 stored reports, half for finished messages, drain with two reconcilers: each waiting message signalled once and final, no finished one signalled', async () => {
    // The stack's own reconciler stays out of it, so the two below account for every signal.
    await stack.workers.reconciler.stop();
    const waiting = await waitingMessages(1000, 10_000);
    const finished = await createFinishedMessages(stack.db, PROVIDER, 1000, 'done');
    await stack.db.deliveryReport.createMany({
      data: [...waiting, ...finished].map((message) => storedRow(deliveredReport(message.id, message.providerMessageId))),
    });

    const signals = new Map<string, number>();
    const logger = pino({ level: 'silent' });
    const clients = await Promise.all(
      [0, 1].map(() => connectTemporalClient({ address: stack.config.TEMPORAL_ADDRESS, namespace: 'default', callTimeoutMs: 10_000 })),
    );
    const reconcilers = clients.map((client) => new DeliveryReportReconciler(stack.db, countingClient(client.client.connection, signals), logger, reconcilerOptions));
    for (const reconciler of reconcilers) reconciler.start();
    try {
      await eventually(
        // Only these: a report naming no known message from an earlier test waits for it (up to giveUpAfterMs).
        async () => ((await stack.db.deliveryReport.count({ where: { processedAt: null, parkedAt: null, messageId: { in: [...waiting, ...finished].map((m) => m.id) } } })) === 0 ? true : undefined),
        300_000,
        'the backlog to drain',
      );
    } finally {
      await Promise.all(reconcilers.map((reconciler) => reconciler.stop()));
      await Promise.all(clients.map((client) => client.close()));
    }
    assert.equal(await stack.db.deliveryReport.count({ where: { parkedAt: { not: null }, messageId: { in: [...waiting, ...finished].map((m) => m.id) } } }), 0);
    for (const message of waiting) assert.equal(signals.get(message.id), 1, `message ${message.id} signalled once`);
    for (const message of finished) assert.equal(signals.get(message.id), undefined, 'a finished message is settled without a signal');
    await eventually(
      async () => ((await stack.db.message.count({ where: { id: { in: waiting.map((m) => m.id) }, status: 'delivered' } })) === waiting.length ? true : undefined),
      120_000,
      'every waiting message delivered',
    );
  });

  test('a row that keeps failing backs off on its own, is logged once and parked with its reason, and does not hold up the others', async () => {
    const messages = await waitingMessages(10, 20_000);
    const [failing, ...others] = messages;
    assert.ok(failing);
    const { id: failingReportId } = await stack.db.deliveryReport.create({ data: storedRow(deliveredReport(failing.id, failing.providerMessageId)) });
    await stack.db.deliveryReport.createMany({ data: others.map((message) => storedRow(deliveredReport(message.id, message.providerMessageId))) });

    const lines: { level: number; msg: string; reportId?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const client = await connectTemporalClient({ address: stack.config.TEMPORAL_ADDRESS, namespace: 'default', callTimeoutMs: 10_000 });
    const reconciler = new DeliveryReportReconciler(stack.db, countingClient(client.client.connection, new Map(), failing.id), logger, reconcilerOptions);
    reconciler.start();
    try {
      const parked = await eventually(async () => {
        const row = await stack.db.deliveryReport.findUnique({ where: { id: failingReportId } });
        return row?.parkedAt ? row : undefined;
      }, 30_000, 'the failing row parked');
      assert.equal(parked.attempts, reconcilerOptions.maxAttempts);
      assert.match(parked.lastError ?? '', /gave up after 3 attempts: .*simulated Temporal failure/);
      await eventually(
        async () => ((await stack.db.message.count({ where: { id: { in: others.map((m) => m.id) }, status: 'delivered' } })) === others.length ? true : undefined),
        60_000,
        'the other messages delivered',
      );
    } finally {
      await reconciler.stop();
      await client.close();
    }
    const aboutIt = lines.filter((line) => line.reportId === String(failingReportId));
    assert.deepEqual(
      aboutIt.map((line) => line.msg),
      ['delivery report cannot be settled yet; retrying with backoff', 'delivery report parked; it stays stored and is not retried'],
    );
  });

  test('stop() returns while a settle waits on a Temporal that never answers', async () => {
    const [message] = await waitingMessages(1, 30_000);
    assert.ok(message);
    await stack.db.deliveryReport.create({ data: storedRow(deliveredReport(message.id, message.providerMessageId)) });
    // Accepts connections and never says a word: every call waits (no deadline on this client).
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const blackHole = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const address = blackHole.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const silent = new Client({ connection: Connection.lazy({ address: `127.0.0.1:${port}` }) });
    const reconciler = new DeliveryReportReconciler(stack.db, silent, pino({ level: 'silent' }), reconcilerOptions);
    reconciler.start();
    try {
      await eventually(async () => {
        const row = await stack.db.deliveryReport.findFirst({ where: { messageId: message.id, leasedBy: reconciler.instance } });
        return row ?? undefined;
      }, 10_000, 'the report claimed');
      await withinGuard(reconciler.stop(), 'reconciler stop');
    } finally {
      for (const socket of sockets) socket.destroy();
      blackHole.close();
    }
    const row = await stack.db.deliveryReport.findFirst({ where: { messageId: message.id } });
    assert.equal(row?.processedAt, null, 'an abandoned report is not marked settled');
  });
});
