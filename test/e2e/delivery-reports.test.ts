import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client, type WorkflowClientInterceptor } from '@temporalio/client';
import Fastify from 'fastify';
import pino from 'pino';
import { Pool, request } from 'undici';
import { deliveryReportsPlugin } from '../../src/api/delivery-reports';
import { ApiMetrics } from '../../src/api/metrics';
import { parseScrape, sumOf, type Scrape } from '../../bench/prometheus';
import { installErrorHandling } from '../../src/api/server';
import { messagePolicyFrom } from '../../src/config';
import { DeliveryReportInbox } from '../../src/inbox/delivery-reports';
import { DeliveryReportReconciler, type ReconcilerOptions } from '../../src/reconciler/delivery-reports';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { deliveryReportSignal } from '../../src/workflows';
import type { ClientNotification } from '../../src/domain/message';
import { ProviderWebhookAdmin, type ProviderWebhooksView } from '../../src/routing/provider-webhooks';
import { eventually, startStack, type TestStack } from '../support/stack';

interface MessageView {
  id: string;
  status: string;
  providerId: string | null;
  providerMessageId: string | null;
  events: { sequence: number; status: string; providerId: string | null; errorCode: string | null; reason: string | null }[];
}

const FINAL = new Set(['delivered', 'undelivered', 'rejected', 'expired', 'failed', 'unknown', 'cancelled']);
const credentials = { apiKey: 'k', dlrSecret: 'dlr-secret' };

let stack: TestStack;

async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await request(`${stack.api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${DEMO_API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as T };
}

async function send(fields: Record<string, unknown>): Promise<string> {
  const answer = await call<{ messages: { id: string }[] }>('POST', '/v1/messages', { from: 'Acme', body: 'dlr test', ...fields });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  return answer.body.messages[0]?.id ?? '';
}

async function view(id: string): Promise<MessageView> {
  return (await call<MessageView>('GET', `/v1/messages/${id}`)).body;
}

/** The message once the provider took it, while its report is held back. */
async function whenSubmitted(id: string): Promise<MessageView> {
  return eventually(async () => {
    const current = await view(id);
    return current.status === 'submitted' ? current : undefined;
  });
}

/** The message once its workflow has ended. */
async function settled(id: string): Promise<MessageView> {
  await stack.temporal.workflow.getHandle(id).result();
  return eventually(async () => {
    const current = await view(id);
    return FINAL.has(current.status) ? current : undefined;
  });
}

/** The webhook URLs an operator is shown for a provider (`GET /v1/admin/providers/:id/webhooks`). */
async function webhookUrlsOf(provider: string): Promise<ProviderWebhooksView> {
  return new ProviderWebhookAdmin(stack.db, stack.api.url).webhooks(provider);
}

function statuses(message: MessageView): string[] {
  return message.events.map((event) => (event.providerId ? `${event.status}@${event.providerId}` : event.status));
}

async function postDlr(provider: string, payload: unknown, secret = credentials.dlrSecret, url = `${stack.api.url}/v1/dlr/${provider}`): Promise<number> {
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret === undefined ? {} : { 'x-dlr-secret': secret }) },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  await response.body.dump();
  return response.statusCode;
}

/** The delivery report signals in the message's workflow history. */
async function deliveryReportSignals(id: string): Promise<number> {
  const history = await stack.temporal.workflow.getHandle(id).fetchHistory();
  return (history.events ?? []).filter((event) => event.workflowExecutionSignaledEventAttributes?.signalName === deliveryReportSignal.name).length;
}

/** Once no report of the message is left to settle in the inbox. */
async function inboxSettledFor(id: string): Promise<void> {
  await eventually(async () => ((await stack.db.deliveryReport.count({ where: { messageId: id, processedAt: null } })) === 0 ? true : undefined));
}

/** A forwarder of the test's own (the workers' is stopped), quick to retry. */
function forwarderOptions(): ReconcilerOptions {
  return {
    intervalMs: 50,
    passSpacingMs: 25,
    giveUpAfterMs: 60_000,
    retryDelayMs: 100,
    maxRetryDelayMs: 1000,
    maxAttempts: 5,
    leaseMs: 60_000,
    drainTimeoutMs: 5000,
    policy: messagePolicyFrom(stack.config),
  };
}

before(async () => {
  stack = await startStack();
  // A deadline no test here reaches: the burst's messages wait for 2,000 reports to be posted and
  // forwarded, which on a loaded machine takes longer than the default 30 s.
  await stack.addProvider({ id: 'reports', dialect: 'generic', credentials, routes: [{ prefix: '4560' }], dlrTimeoutSeconds: 600 });
  await stack.addProvider({ id: 'flaky-route', dialect: 'generic', credentials, routes: [{ prefix: '4561', priority: 0 }] });
  await stack.addProvider({ id: 'good-route', dialect: 'generic', credentials, routes: [{ prefix: '4561', priority: 1 }] });
  await stack.addProvider({ id: 'slow-reports', dialect: 'generic', credentials, routes: [{ prefix: '4562' }], dlrTimeoutSeconds: 1 });
  // No dlrSecret: only our token in the callback URL proves a report came from the provider.
  await stack.addProvider({ id: 'unsigned-route', dialect: 'generic', credentials: { apiKey: 'k' }, routes: [{ prefix: '4563', priority: 0 }] });
  await stack.addProvider({ id: 'unsigned-backup', dialect: 'generic', credentials: { apiKey: 'k' }, routes: [{ prefix: '4563', priority: 1 }] });
});

after(async () => {
  await stack?.close();
});

describe('delivery reports', () => {
  test('duplicate reports are acknowledged, and the message has one final status', async () => {
    stack.simulator.configure('reports', { reportCopies: 3, intermediateReport: true });
    try {
      const id = await send({ to: '+4560123401' });
      const message = await settled(id);
      await stack.simulator.drainCallbacks();
      assert.equal(message.status, 'delivered');
      assert.deepEqual(statuses(message), ['accepted', 'routed@reports', 'submitted@reports', 'enroute@reports', 'delivered@reports']);
      const callbacks = stack.simulator.callbacks.filter((entry) => entry.providerMessageId === message.providerMessageId);
      assert.equal(callbacks.length, 6);
      assert.ok(callbacks.every((entry) => entry.statusCode === 200));
    } finally {
      stack.simulator.configure('reports', { reportCopies: 1, intermediateReport: false });
    }
  });

  test('a report out of order (final first, then intermediate) never moves the message backwards', async () => {
    stack.simulator.configure('reports', { intermediateReport: true, reportsOutOfOrder: true });
    try {
      const id = await send({ to: '+4560123402' });
      const message = await settled(id);
      await stack.simulator.drainCallbacks();
      assert.equal(message.status, 'delivered');
      assert.equal(message.events.at(-1)?.status, 'delivered');
      assert.ok(!statuses(message).includes('enroute@reports'));
      assert.equal((await view(id)).status, 'delivered');
    } finally {
      stack.simulator.configure('reports', { intermediateReport: false, reportsOutOfOrder: false });
    }
  });

  test('a late report after the DLR timeout updates the unknown outcome without sending again', async () => {
    stack.simulator.configure('slow-reports', { dlrDelayMs: 2_500 });
    const id = await send({ to: '+4562123401' });
    const timedOut = await settled(id);
    assert.equal(timedOut.status, 'unknown');
    const late = await eventually(async () => {
      const current = await view(id);
      return current.status === 'delivered' ? current : undefined;
    });
    assert.deepEqual(statuses(late), ['accepted', 'routed@slow-reports', 'submitted@slow-reports', 'unknown@slow-reports', 'delivered@slow-reports']);
    assert.match(late.events.at(-1)?.reason ?? '', /late delivery report/);
    assert.equal(stack.simulator.acceptedFor(id).length, 1);
    // The one report, in the inbox, forwarded to the ended workflow's late-final handling.
    const stored = await stack.db.deliveryReport.findMany({ where: { messageId: id } });
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.reason, 'received');
    assert.ok(stored[0]?.processedAt);
  });

  test('a report for an unknown message is acknowledged and stored, never dropped', async () => {
    const status = await postDlr('reports', { id: 'no-such-provider-id', reference: '00000000-0000-4000-8000-00000000abcd', status: 'delivered' });
    assert.equal(status, 200);
    const stored = await stack.db.deliveryReport.findFirst({ where: { providerMessageId: 'no-such-provider-id' } });
    assert.equal(stored?.messageId, '00000000-0000-4000-8000-00000000abcd');
    assert.equal(stored?.status, 'delivered');
  });

  test("the ops metrics time each callback's answer and count the reports each inbox flush wrote", async () => {
    const before = await opsMetrics();
    assert.equal(await postDlr('reports', { id: 'metrics-provider-id', reference: '00000000-0000-4000-8000-00000000abce', status: 'delivered' }), 200);
    assert.equal(await postDlr('reports', { id: 'metrics-provider-id', status: 'delivered' }, 'not-the-secret'), 401);
    const after = await opsMetrics();
    // The provider's own reports for earlier messages may come meanwhile: the counts are held to each other.
    const grew = (name: string, ...labels: string[]) => sumOf(after, name, labels) - sumOf(before, name, labels);
    assert.ok(grew('smsrouter_delivery_report_ack_seconds_count', 'outcome="acknowledged"') >= 1);
    assert.equal(grew('smsrouter_delivery_report_ack_seconds_count', 'outcome="refused"'), 1);
    assert.equal(grew('smsrouter_delivery_report_inbox_flush_rows_sum'), grew('smsrouter_delivery_reports_total', 'outcome="stored"'));
    assert.ok(grew('smsrouter_delivery_report_inbox_flush_seconds_count') >= 1);
  });

  test('a report matched only by the provider message id reaches its message', async () => {
    stack.simulator.configure('reports', { dlrDelayMs: 60_000 });
    try {
      const id = await send({ to: '+4560123403' });
      const submitted = await whenSubmitted(id);
      // No reference: the router has to find the message by (provider, provider message id).
      assert.equal(await postDlr('reports', { id: submitted.providerMessageId, status: 'delivered' }), 200);
      assert.equal((await settled(id)).status, 'delivered');
    } finally {
      stack.simulator.configure('reports', { dlrDelayMs: 200 });
    }
  });

  test('a report with a wrong secret gets 401 and a malformed one 400; neither is stored', async () => {
    const before = await stack.db.deliveryReport.count();
    assert.equal(await postDlr('reports', { id: 'x', status: 'delivered' }, 'wrong'), 401);
    assert.equal(await postDlr('reports', '{"id":'), 400);
    assert.equal(await postDlr('reports', { id: 'x', status: 'teleported' }), 400);
    assert.equal(await stack.db.deliveryReport.count(), before);
  });

  test('a forged unsigned undelivered report to a provider without a secret is refused 401 and triggers nothing', async () => {
    stack.simulator.configure('unsigned-route', { dlrDelayMs: 60_000 });
    try {
      const id = await send({ to: '+4563123401' });
      const submitted = await whenSubmitted(id);
      const reportsBefore = await stack.db.deliveryReport.count();
      // The error says another route may reach the handset: accepted, it would make us pay for a resend.
      const forged = { id: submitted.providerMessageId, reference: id, status: 'undelivered', errorCode: 'network_error' };
      assert.equal(await postDlr('unsigned-route', forged, undefined), 401);
      assert.equal(await postDlr('unsigned-route', forged, undefined, `${stack.api.url}/v1/dlr/unsigned-route?token=forged`), 401);
      const { deliveryReports } = await webhookUrlsOf('unsigned-route');
      // A valid token of another provider opens only that provider's webhook.
      const otherToken = new URL((await webhookUrlsOf('unsigned-backup')).deliveryReports).search;
      assert.equal(await postDlr('unsigned-route', forged, undefined, `${stack.api.url}/v1/dlr/unsigned-route${otherToken}`), 401);

      assert.equal(await stack.db.deliveryReport.count(), reportsBefore);
      const untouched = await view(id);
      assert.equal(untouched.status, 'submitted');
      assert.deepEqual(stack.simulator.acceptedFor(id).map((entry) => entry.provider), ['unsigned-route']);

      // The URL the provider was handed, token and all, is accepted.
      assert.equal(await postDlr('unsigned-route', { ...forged, status: 'delivered', errorCode: undefined }, undefined, deliveryReports), 200);
      const message = await settled(id);
      assert.equal(message.status, 'delivered');
      assert.deepEqual(stack.simulator.acceptedFor(id).map((entry) => entry.provider), ['unsigned-route']);
    } finally {
      stack.simulator.configure('unsigned-route', { dlrDelayMs: 200 });
    }
  });

  test('an undelivered report whose error another route may fix is resent via the next route', async () => {
    stack.simulator.configure('flaky-route', { outcomes: { undelivered: 1 } });
    const id = await send({ to: '+4561123401' });
    const message = await settled(id);
    assert.equal(message.status, 'delivered');
    assert.deepEqual(statuses(message), [
      'accepted',
      'routed@flaky-route',
      'submitted@flaky-route',
      'attempt_failed@flaky-route',
      'routed@good-route',
      'submitted@good-route',
      'delivered@good-route',
    ]);
    assert.match(message.events[3]?.reason ?? '', /resending via the next route/);
    assert.deepEqual(stack.simulator.acceptedFor(id).map((entry) => entry.provider), ['flaky-route', 'good-route']);
  });
});

describe('scheduling, cancel and validity', () => {
  test('a scheduled message cancelled before its time is never sent', async () => {
    const sendAt = new Date(Date.now() + 60_000).toISOString();
    const answer = await call<{ messages: { id: string; status: string }[] }>('POST', '/v1/messages', {
      to: '+4560123404',
      from: 'Acme',
      body: 'later',
      sendAt,
    });
    assert.equal(answer.body.messages[0]?.status, 'scheduled');
    const id = answer.body.messages[0]?.id ?? '';
    await eventually(async () => ((await view(id)).status === 'scheduled' ? true : undefined));
    const cancel = await call<{ status: string }>('DELETE', `/v1/messages/${id}`);
    assert.equal(cancel.status, 200);
    assert.equal(cancel.body.status, 'cancelled');
    const message = await settled(id);
    assert.equal(message.status, 'cancelled');
    assert.deepEqual(statuses(message), ['accepted', 'scheduled', 'cancelled']);
    assert.equal(stack.simulator.submitsFor(id).length, 0);
    const again = await call<{ error: { code: string } }>('DELETE', `/v1/messages/${id}`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'not_cancellable');
  });

  test('a message already submitted cannot be cancelled', async () => {
    stack.simulator.configure('reports', { dlrDelayMs: 3_000 });
    try {
      const id = await send({ to: '+4560123405' });
      await eventually(async () => ((await view(id)).status === 'submitted' ? true : undefined));
      const cancel = await call<{ error: { code: string } }>('DELETE', `/v1/messages/${id}`);
      assert.equal(cancel.status, 409);
      assert.equal(cancel.body.error.code, 'not_cancellable');
      assert.equal((await settled(id)).status, 'delivered');
    } finally {
      stack.simulator.configure('reports', { dlrDelayMs: 200 });
    }
  });

  test('a message that cannot be submitted within its validity period ends expired', async () => {
    stack.simulator.configure('reports', { failNext: { failure: 'throttled', count: 1 }, retryAfterSeconds: 30 });
    try {
      const id = await send({ to: '+4560123406', validitySeconds: 2 });
      const message = await settled(id);
      assert.equal(message.status, 'expired');
      assert.deepEqual(statuses(message), ['accepted', 'routed@reports', 'attempt_failed@reports', 'expired']);
      assert.equal(stack.simulator.acceptedFor(id).length, 0);
    } finally {
      stack.simulator.configure('reports', { retryAfterSeconds: 1 });
    }
  });
});

describe('submit', () => {
  test('the same clientRef twice is one message, sent once', async () => {
    const first = await call<{ messages: { id: string; duplicate?: boolean }[] }>('POST', '/v1/messages', {
      to: '+4560123407',
      from: 'Acme',
      body: 'once',
      clientRef: 'order-42',
    });
    const second = await call<{ messages: { id: string; duplicate?: boolean }[] }>('POST', '/v1/messages', {
      to: '+4560123407',
      from: 'Acme',
      body: 'once',
      clientRef: 'order-42',
    });
    const id = first.body.messages[0]?.id ?? '';
    assert.equal(second.body.messages[0]?.id, id);
    assert.equal(first.body.messages[0]?.duplicate, undefined);
    assert.equal(second.body.messages[0]?.duplicate, true);
    await settled(id);
    const third = await call<{ messages: { id: string; duplicate?: boolean }[] }>('POST', '/v1/messages', {
      to: '+4560123407',
      from: 'Acme',
      body: 'once',
      clientRef: 'order-42',
    });
    assert.equal(third.body.messages[0]?.duplicate, true);
    assert.equal(stack.simulator.acceptedFor(id).length, 1);
  });

  test('a batch answers one id per valid recipient and names the invalid ones', async () => {
    const answer = await call<{ messages: { id: string; to: string }[]; errors: { index: number; error: { code: string; field: string } }[] }>(
      'POST',
      '/v1/messages',
      { recipients: ['+4560123408', 'not a number', { to: '+4560123409', clientRef: 'batch-b' }], from: 'Acme', body: 'batch' },
    );
    assert.equal(answer.status, 202);
    assert.deepEqual(answer.body.messages.map((message) => message.to), ['+4560123408', '+4560123409']);
    assert.deepEqual(answer.body.errors.map((error) => [error.index, error.error.code, error.error.field]), [[1, 'invalid_number', 'recipients[1]']]);
    for (const message of answer.body.messages) {
      assert.equal((await settled(message.id)).status, 'delivered');
      assert.equal(stack.simulator.acceptedFor(message.id).length, 1);
    }
  });
});

describe('client callbacks', () => {
  let client: Server;
  let clientUrl = '';
  const received: ClientNotification[] = [];
  let failuresLeft = 2;
  let attempts = 0;

  before(async () => {
    client = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        attempts += 1;
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          res.writeHead(503).end();
          return;
        }
        received.push(JSON.parse(body) as ClientNotification);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => client.listen(0, '127.0.0.1', resolve));
    clientUrl = `http://127.0.0.1:${(client.address() as AddressInfo).port}/hook`;
  });

  after(() => {
    client.close();
  });

  test('every status change reaches the client in order, retried after the endpoint failed twice, without delaying the message', async () => {
    const id = await send({ to: '+4560123410', callbackUrl: clientUrl, clientRef: 'cb-1' });
    const message = await settled(id);
    const deliveredAt = Date.now();
    assert.equal(message.status, 'delivered');
    await eventually(async () => (received.some((entry) => entry.status === 'delivered') ? true : undefined), 30_000, 'the final callback');
    assert.ok(Date.now() > deliveredAt, 'the message was final before the client heard of it');
    assert.deepEqual(
      received.map((entry) => [entry.sequence, entry.status]),
      message.events.map((event) => [event.sequence, event.status]),
    );
    assert.ok(received.every((entry) => entry.id === id && entry.clientRef === 'cb-1'));
    assert.equal(attempts, received.length + 2);
  });
});

describe('the delivery report inbox', () => {
  test('a failed inbox write answers 503 with Retry-After; the provider retrying, and retrying again, is applied once', async () => {
    stack.simulator.configure('reports', { dlrDelayMs: 600_000 });
    const id = await send({ to: '+4560123499' });
    const { providerMessageId } = await whenSubmitted(id);
    // The webhook as the API builds it, writing to a database that is not there.
    const broken = Fastify();
    installErrorHandling(broken);
    const unreachable = new DeliveryReportInbox('postgresql://postgres@127.0.0.1:1/unreachable', { maxRows: 10, lingerMs: 1, notifySpacingMs: 0 }, pino({ level: 'silent' }));
    await broken.register(deliveryReportsPlugin, {
      inbox: unreachable,
      catalog: stack.api.catalog,
      publicBaseUrl: stack.api.url,
      metrics: new ApiMetrics(),
    });
    const body = JSON.stringify({ id: providerMessageId, reference: id, status: 'delivered' });
    try {
      const refused = await broken.inject({ method: 'POST', url: '/v1/dlr/reports', headers: { 'content-type': 'application/json', 'x-dlr-secret': credentials.dlrSecret }, body });
      assert.equal(refused.statusCode, 503);
      assert.ok(Number(refused.headers['retry-after']) > 0, 'Retry-After tells the provider when to try again');
    } finally {
      await broken.close();
      await unreachable.close();
    }
    assert.equal(await stack.db.deliveryReport.count({ where: { messageId: id } }), 0, 'nothing acknowledged, nothing stored');
    assert.equal(await postDlr('reports', body), 200);
    // Our 2xx lost on the way back: the provider sends it once more.
    assert.equal(await postDlr('reports', body), 200);
    const message = await settled(id);
    stack.simulator.configure('reports', { dlrDelayMs: 200 });
    assert.deepEqual(statuses(message), ['accepted', 'routed@reports', 'submitted@reports', 'delivered@reports']);
    await inboxSettledFor(id);
  });

  test('a repeat of the intermediate status a message shows is settled without a signal; any other report is signalled', async () => {
    stack.simulator.configure('reports', { dlrDelayMs: 600_000 });
    try {
      const id = await send({ to: '+4560400001' });
      const { providerMessageId } = await whenSubmitted(id);
      const forwarded = async (status: string, part = providerMessageId) => {
        assert.equal(await postDlr('reports', { id: part, reference: id, status }), 200);
        await inboxSettledFor(id);
      };
      await forwarded('enroute');
      await eventually(async () => ((await view(id)).status === 'enroute' ? true : undefined));
      await forwarded('enroute');
      await forwarded('enroute');
      // The same status for a part the message does not show, and a status it does not show.
      await forwarded('enroute', 'another-part');
      await forwarded('buffered');
      await forwarded('delivered');
      const message = await settled(id);
      assert.deepEqual(statuses(message), ['accepted', 'routed@reports', 'submitted@reports', 'enroute@reports', 'buffered@reports', 'delivered@reports']);
      assert.equal(await deliveryReportSignals(id), 4, 'signalled: the first enroute, enroute for another part, buffered, delivered');
      // Every report settled, the skipped ones too (and the other part's, which the workflow kept unread).
      await inboxSettledFor(id);
    } finally {
      stack.simulator.configure('reports', { dlrDelayMs: 200 });
    }
  });

  test('repeats of an intermediate report taken in one pass with it, before the message shows it, are settled without a signal', async () => {
    stack.simulator.configure('reports', { dlrDelayMs: 600_000 });
    const id = await send({ to: '+4560400002' });
    const { providerMessageId } = await whenSubmitted(id);
    await stack.workers.reconciler.stop();
    try {
      for (const status of ['enroute', 'enroute', 'enroute', 'delivered']) {
        assert.equal(await postDlr('reports', { id: providerMessageId, reference: id, status }), 200);
      }
      const forwarder = new DeliveryReportReconciler(stack.db, stack.temporal, pino({ level: 'silent' }), forwarderOptions());
      forwarder.start();
      try {
        const message = await settled(id);
        assert.deepEqual(statuses(message), ['accepted', 'routed@reports', 'submitted@reports', 'enroute@reports', 'delivered@reports']);
        assert.equal(await deliveryReportSignals(id), 2, 'signalled: the first enroute and delivered');
        await inboxSettledFor(id);
      } finally {
        await forwarder.stop();
      }
    } finally {
      await stack.restartWorkers();
      stack.simulator.configure('reports', { dlrDelayMs: 200 });
    }
  });

  test("one message's reports are forwarded in the order received, each applied once even when forwarded twice", async () => {
    stack.simulator.configure('reports', { dlrDelayMs: 600_000 });
    const ids = await Promise.all(Array.from({ length: 20 }, (_, index) => send({ to: `+4560${String(300000 + index)}` })));
    const submitted = await Promise.all(ids.map(whenSubmitted));
    const REPORTED = ['enroute@reports', 'buffered@reports', 'delivered@reports'];
    // The forwarder held back while the reports pile up, so that one pass takes them all at once.
    await stack.workers.reconciler.stop();
    try {
      // Then each once more, as a provider sends them again when our 2xx was lost: forwarded twice.
      for (const status of ['enroute', 'buffered', 'delivered', 'enroute', 'buffered', 'delivered']) {
        const codes = await Promise.all(submitted.map((message) => postDlr('reports', { id: message.providerMessageId, reference: message.id, status })));
        assert.ok(codes.every((code) => code === 200));
      }
      const forwarders = [0, 1].map(
        () =>
          new DeliveryReportReconciler(stack.db, jitteringClient(), pino({ level: 'silent' }), forwarderOptions()),
      );
      for (const forwarder of forwarders) forwarder.start();
      try {
        const reported = (message: MessageView) => statuses(message).filter((status) => REPORTED.includes(status));
        for (const id of ids) {
          // Each report applied, in the order received: out of order, the final one would end it first.
          assert.deepEqual(reported(await settled(id)), REPORTED);
        }
        // Forwarded again once final (a lease that ran out mid-signal looks the same): nothing changes.
        await stack.db.deliveryReport.updateMany({ where: { messageId: { in: ids } }, data: { processedAt: null } });
        await eventually(async () => ((await stack.db.deliveryReport.count({ where: { messageId: { in: ids }, processedAt: null } })) === 0 ? true : undefined));
        for (const id of ids) assert.deepEqual(reported(await view(id)), REPORTED);
      } finally {
        await Promise.all(forwarders.map((forwarder) => forwarder.stop()));
      }
    } finally {
      await stack.restartWorkers();
      stack.simulator.configure('reports', { dlrDelayMs: 200 });
    }
  });
});

describe('a burst of delivery reports', () => {
  test('2,000 concurrent callbacks are each acknowledged, stored in the inbox, and applied exactly once', async () => {
    const MESSAGES = 200;
    const REPORTS_PER_MESSAGE = 10;
    stack.simulator.configure('reports', { dlrDelayMs: 600_000 });
    const ids = await Promise.all(Array.from({ length: MESSAGES }, (_, index) => send({ to: `+4560${String(200000 + index)}` })));
    const providerIds = await Promise.all(
      ids.map((id) =>
        eventually(async () => {
          const current = await view(id);
          return current.status === 'submitted' && current.providerMessageId ? current.providerMessageId : undefined;
        }, 60_000),
      ),
    );

    const storedMetricBefore = await deliveryReportsStored();
    const storedBefore = await stack.db.deliveryReport.count({ where: { providerId: 'reports' } });
    const pool = new Pool(stack.api.url, { connections: 256 });
    const statusesSent = ['enroute', 'buffered', 'enroute', 'delivered', 'delivered', 'delivered', 'buffered', 'delivered', 'enroute', 'delivered'];
    const latencies: number[] = [];
    const codes = await Promise.all(
      ids.flatMap((id, index) =>
        statusesSent.slice(0, REPORTS_PER_MESSAGE).map(async (status) => {
          const started = performance.now();
          const response = await pool.request({
            method: 'POST',
            path: '/v1/dlr/reports',
            headers: { 'content-type': 'application/json', 'x-dlr-secret': credentials.dlrSecret },
            body: JSON.stringify({ id: providerIds[index], reference: id, status }),
          });
          await response.body.dump();
          latencies.push(performance.now() - started);
          return response.statusCode;
        }),
      ),
    );
    await pool.close();
    stack.simulator.configure('reports', { dlrDelayMs: 200 });

    const total = MESSAGES * REPORTS_PER_MESSAGE;
    assert.equal(codes.length, total);
    assert.ok(codes.every((code) => code === 200), 'every report acknowledged');
    // The provider's own reports for earlier tests' messages may land meanwhile (one test here has
    // them sent 60 s late): the counter is held to the rows stored, and these messages' rows to the posts.
    const stored = (await deliveryReportsStored()) - storedMetricBefore;
    assert.equal(stored, (await stack.db.deliveryReport.count({ where: { providerId: 'reports' } })) - storedBefore, 'every stored report counted as stored');
    assert.equal(await stack.db.deliveryReport.count({ where: { providerId: 'reports', messageId: { in: ids } } }), total, 'one inbox row per report');
    for (const id of ids) assert.equal((await settled(id)).status, 'delivered');
    // Applied once: one delivered event per message, each intermediate status once, however many came.
    const events = await stack.db.messageEvent.groupBy({ by: ['messageId', 'status'], where: { messageId: { in: ids } }, _count: { _all: true } });
    assert.ok(events.every((group) => group._count._all === 1), 'no status applied twice');
    assert.equal(events.filter((group) => group.status === 'delivered').length, MESSAGES);
    await eventually(async () => ((await stack.db.deliveryReport.count({ where: { messageId: { in: ids }, processedAt: null } })) === 0 ? true : undefined));

    latencies.sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)] ?? 0;
    const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
    console.log(
      `DLR burst: ${total} concurrent callbacks, all acknowledged and stored; ` +
        `acknowledgement latency median ${median.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`,
    );
  });
});

/** The stack's Temporal with every signal held back a random few milliseconds: signals sent at once land in any order. */
function jitteringClient(): Client {
  const interceptor: WorkflowClientInterceptor = {
    async signal(input, next) {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
      return next(input);
    },
  };
  return new Client({ connection: stack.temporal.connection, interceptors: { workflow: [interceptor] } });
}

async function deliveryReportsStored(): Promise<number> {
  return sumOf(await opsMetrics(), 'smsrouter_delivery_reports_total', ['provider="reports"', 'outcome="stored"']);
}

async function opsMetrics(): Promise<Scrape> {
  const response = await request(`${stack.api.opsUrl}/metrics`);
  return parseScrape(await response.body.text());
}
