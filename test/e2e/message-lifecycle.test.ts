import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { eventually, startStack, type TestStack } from '../support/stack';

interface SubmitAnswer {
  messages: { id: string; to: string; status: string }[];
}
interface ErrorAnswer {
  error: { code: string; message: string; field?: string };
}
interface MessageView {
  id: string;
  status: string;
  to: string;
  providerId: string | null;
  providerMessageId: string | null;
  events: { sequence: number; status: string; providerId: string | null }[];
}

let stack: TestStack;

async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown, key: string | null = DEMO_API_KEY) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const response = await request(`${stack.api.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as T };
}

async function finalView(id: string): Promise<MessageView> {
  return eventually(
    async () => {
      const { status, body } = await api<MessageView>('GET', `/v1/messages/${id}`);
      return status === 200 && ['delivered', 'undelivered', 'failed', 'unknown', 'rejected'].includes(body.status) ? body : undefined;
    },
    30_000,
    `final status of ${id}`,
  );
}

before(async () => {
  stack = await startStack();
});

after(async () => {
  await stack?.close();
});

describe('one message end to end', () => {
  test('a message sent through the REST API is submitted once and ends delivered, with every status recorded', async () => {
    const sent = await api<SubmitAnswer>('POST', '/v1/messages', { to: '+45 20 12 34 56', from: 'Acme', body: 'Your code is 1234' });
    assert.equal(sent.status, 202);
    const [accepted] = sent.body.messages;
    assert.ok(accepted);
    assert.equal(accepted.to, '+4520123456');
    assert.equal(accepted.status, 'accepted');

    const view = await finalView(accepted.id);
    assert.equal(view.status, 'delivered');
    assert.equal(view.providerId, 'sim-generic');
    assert.deepEqual(
      view.events.map((event) => event.status),
      ['accepted', 'routed', 'submitted', 'delivered'],
    );
    assert.deepEqual(
      view.events.map((event) => event.sequence),
      [1, 2, 3, 4],
    );

    const submits = stack.simulator.submitsFor(accepted.id);
    assert.equal(submits.length, 1);
    assert.equal(view.providerMessageId, submits[0]?.providerMessageIds[0]);
    assert.equal(submits[0]?.submit.to, '+4520123456');
    assert.equal(submits[0]?.submit.body, 'Your code is 1234');

    // Ops can find it in the Temporal UI by its search attributes.
    const found = await eventually(async () => {
      const runs = [];
      for await (const run of stack.temporal.workflow.list({
        query: `SmsStatus = "delivered" AND SmsProvider = "sim-generic" AND SmsCountry = "DK" AND SmsAccount = "demo"`,
      })) {
        runs.push(run.workflowId);
      }
      return runs.includes(accepted.id) ? runs : undefined;
    });
    assert.ok(found.includes(accepted.id));

    const row = await stack.db.message.findUniqueOrThrow({ where: { id: accepted.id } });
    assert.equal(row.status, 'delivered');
    assert.equal(row.country, 'DK');
    assert.equal(row.encoding, 'gsm7');
    assert.equal(row.segments, 1);
    assert.ok(row.completedAt);

    // What Temporal keeps per message: one write of the workflow's own (the final status). The API
    // chose the route, and the submit activity recorded accepted, routed and submitted; a report
    // timer, when one was needed, ends with the workflow instead of being cancelled (one history
    // event each).
    const history = (await stack.temporal.workflow.getHandle(accepted.id).fetchHistory()).events ?? [];
    const count = (type: temporal.api.enums.v1.EventType) => history.filter((event) => event.eventType === type).length;
    assert.equal(count(temporal.api.enums.v1.EventType.EVENT_TYPE_MARKER_RECORDED), 1);
    assert.equal(count(temporal.api.enums.v1.EventType.EVENT_TYPE_TIMER_CANCELED), 0);
  });

  test('twenty messages at once are each submitted exactly once and all delivered', async () => {
    const ids = await Promise.all(
      Array.from({ length: 20 }, async (_, index) => {
        const sent = await api<SubmitAnswer>('POST', '/v1/messages', {
          to: `+4520${String(100000 + index)}`,
          from: 'Acme',
          body: `message ${index}`,
        });
        assert.equal(sent.status, 202);
        return sent.body.messages[0]?.id ?? '';
      }),
    );
    const views = await Promise.all(ids.map(finalView));
    assert.deepEqual(new Set(views.map((view) => view.status)), new Set(['delivered']));
    for (const id of ids) assert.equal(stack.simulator.submitsFor(id).length, 1, `submits for ${id}`);
    const rows = await stack.db.messageEvent.groupBy({ by: ['messageId'], where: { messageId: { in: ids } }, _count: true });
    assert.equal(rows.length, 20);
    for (const row of rows) assert.equal(row._count, 4);
  });

  test('a DLR that reaches the webhook before the submit activity has returned still ends the message', async () => {
    stack.simulator.configure('sim-generic', { latencyMs: 600, dlrDelayMs: 0 });
    try {
      const sent = await api<SubmitAnswer>('POST', '/v1/messages', { to: '+4520999001', from: 'Acme', body: 'early report' });
      const id = sent.body.messages[0]?.id ?? '';
      const view = await finalView(id);
      assert.equal(view.status, 'delivered');
      assert.equal(stack.simulator.submitsFor(id).length, 1);
      const callback = stack.simulator.callbacks.find((entry) => entry.providerMessageId === view.providerMessageId);
      assert.equal(callback?.statusCode, 200);
      const answeredAt = stack.simulator.submitsFor(id)[0]?.answeredAt ?? 0;
      assert.ok(callback.sentAt + callback.latencyMs < answeredAt, 'the DLR was acknowledged before the submit was answered');
    } finally {
      stack.simulator.configure('sim-generic', { latencyMs: 0, dlrDelayMs: 200 });
    }
  });

  test('no final report within the DLR timeout ends the message unknown', async () => {
    await stack.db.provider.update({ where: { id: 'sim-generic' }, data: { dlrTimeoutSeconds: 1 } });
    stack.simulator.configure('sim-generic', { dlrDelayMs: 60_000 });
    try {
      await stack.refreshCatalogs();
      const sent = await api<SubmitAnswer>('POST', '/v1/messages', { to: '+4520999002', from: 'Acme', body: 'no report' });
      const view = await finalView(sent.body.messages[0]?.id ?? '');
      assert.equal(view.status, 'unknown');
      assert.deepEqual(
        view.events.map((event) => event.status),
        ['accepted', 'routed', 'submitted', 'unknown'],
      );
    } finally {
      stack.simulator.configure('sim-generic', { dlrDelayMs: 200 });
      await stack.db.provider.update({ where: { id: 'sim-generic' }, data: { dlrTimeoutSeconds: 60 } });
      await stack.refreshCatalogs();
    }
  });

  test('a message survives a worker restart while it waits for its DLR', async () => {
    stack.simulator.configure('sim-generic', { dlrDelayMs: 3_000 });
    try {
      const sent = await api<SubmitAnswer>('POST', '/v1/messages', { to: '+4520999003', from: 'Acme', body: 'restart' });
      const id = sent.body.messages[0]?.id ?? '';
      await eventually(async () => (stack.simulator.submitsFor(id).length === 1 ? true : undefined));
      await stack.restartWorkers();
      const view = await finalView(id);
      assert.equal(view.status, 'delivered');
      assert.equal(stack.simulator.submitsFor(id).length, 1);
    } finally {
      stack.simulator.configure('sim-generic', { dlrDelayMs: 200 });
    }
  });
});

describe('submit validation', () => {
  const cases: { label: string; body: unknown; key?: string | null; status: number; code: string; field?: string }[] = [
    { label: 'invalid number', body: { to: '+12', from: 'Acme', body: 'x' }, status: 400, code: 'invalid_number', field: 'to' },
    { label: 'national number without country', body: { to: '020 1234 5678', from: 'Acme', body: 'x' }, status: 400, code: 'invalid_number', field: 'to' },
    { label: 'missing to', body: { from: 'Acme', body: 'x' }, status: 400, code: 'invalid_request', field: 'to' },
    { label: 'missing body', body: { to: '+4520123456', from: 'Acme' }, status: 400, code: 'invalid_request', field: 'body' },
    { label: 'empty body', body: { to: '+4520123456', from: 'Acme', body: '' }, status: 400, code: 'invalid_request', field: 'body' },
    { label: 'oversized body', body: { to: '+4520123456', from: 'Acme', body: 'x'.repeat(1531) }, status: 400, code: 'body_too_long', field: 'body' },
    { label: 'unknown field', body: { to: '+4520123456', from: 'Acme', body: 'x', priority: 'high' }, status: 400, code: 'invalid_request', field: 'priority' },
    { label: 'no API key', body: { to: '+4520123456', from: 'Acme', body: 'x' }, key: null, status: 401, code: 'unauthorized', field: 'authorization' },
    { label: 'wrong API key', body: { to: '+4520123456', from: 'Acme', body: 'x' }, key: 'nope', status: 401, code: 'unauthorized', field: 'authorization' },
  ];
  for (const testCase of cases) {
    test(`${testCase.label} gets ${testCase.status} ${testCase.code} and sends nothing`, async () => {
      const before = stack.simulator.received.length;
      const workflowsBefore = (await stack.temporal.workflow.count()).count;
      const answer = await api<ErrorAnswer>('POST', '/v1/messages', testCase.body, testCase.key === undefined ? DEMO_API_KEY : testCase.key);
      assert.equal(answer.status, testCase.status);
      assert.equal(answer.body.error.code, testCase.code);
      assert.equal(answer.body.error.field, testCase.field);
      assert.equal((await stack.temporal.workflow.count()).count, workflowsBefore);
      assert.equal(stack.simulator.received.length, before);
    });
  }

  test('GET of an unknown message is 404', async () => {
    const answer = await api<ErrorAnswer>('GET', '/v1/messages/00000000-0000-0000-0000-000000000000');
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error.code, 'not_found');
  });
});
