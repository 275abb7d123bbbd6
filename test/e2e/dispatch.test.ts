import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { eventually, startStack, type TestStack } from '../support/stack';

interface MessageView {
  id: string;
  status: string;
  providerId: string | null;
  errorCode: string | null;
  events: { status: string; providerId: string | null; errorCode: string | null; reason: string | null }[];
}

const FINAL = new Set(['delivered', 'undelivered', 'rejected', 'expired', 'failed', 'unknown', 'cancelled']);
const credentials = { apiKey: 'k', dlrSecret: 'dlr' };

let stack: TestStack;

async function send(to: string, body = 'dispatch test'): Promise<string> {
  const response = await request(`${stack.api.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, from: 'Acme', body }),
  });
  const answer = (await response.body.json()) as { messages: { id: string }[] };
  assert.equal(response.statusCode, 202);
  return answer.messages[0]?.id ?? '';
}

/** The message once its workflow has ended (a final status alone can still change with a late DLR). */
async function settled(id: string): Promise<MessageView> {
  await stack.temporal.workflow.getHandle(id).result();
  return eventually(async () => {
    const response = await request(`${stack.api.url}/v1/messages/${id}`, { headers: { authorization: `Bearer ${DEMO_API_KEY}` } });
    const view = (await response.body.json()) as MessageView;
    return FINAL.has(view.status) ? view : undefined;
  });
}

function statuses(view: MessageView): string[] {
  return view.events.map((event) => (event.providerId ? `${event.status}@${event.providerId}` : event.status));
}

before(async () => {
  stack = await startStack();
  await stack.addProvider({ id: 'first', dialect: 'generic', credentials, routes: [{ prefix: '4530', priority: 0 }] });
  await stack.addProvider({ id: 'second', dialect: 'generic', credentials, routes: [{ prefix: '4530', priority: 1 }] });
  await stack.addProvider({
    id: 'resender',
    dialect: 'generic',
    credentials,
    deliveryGuarantee: 'at_least_once',
    routes: [{ prefix: '4531' }],
  });
});

after(async () => {
  await stack?.close();
});

describe('dispatch outcomes', () => {
  test('a permanent error on the first provider fails over: the second delivers, each provider took one submit', async () => {
    stack.simulator.configure('first', { failNext: { failure: 'invalid_number', count: 1 } });
    const id = await send('+4530123401');
    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    assert.equal(view.providerId, 'second');
    assert.deepEqual(statuses(view), ['accepted', 'routed@first', 'attempt_failed@first', 'routed@second', 'submitted@second', 'delivered@second']);
    assert.equal(view.events[2]?.errorCode, 'generic:invalid_number');
    assert.deepEqual(
      stack.simulator.submitsFor(id).map((entry) => `${entry.provider}:${entry.outcome}`),
      ['first:invalid_number', 'second:accepted'],
    );
  });

  test('transient errors are retried on the same provider with backoff, and it delivers', async () => {
    stack.simulator.configure('first', { failNext: { failure: 'server_error', count: 2 } });
    const id = await send('+4530123402');
    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    assert.equal(view.providerId, 'first');
    assert.deepEqual(statuses(view), [
      'accepted',
      'routed@first',
      'attempt_failed@first',
      'attempt_failed@first',
      'submitted@first',
      'delivered@first',
    ]);
    const attempts = stack.simulator.submitsFor(id);
    assert.deepEqual(attempts.map((entry) => entry.outcome), ['server_error', 'server_error', 'accepted']);
    const [a, b, c] = attempts.map((entry) => entry.receivedAt);
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    assert.ok(c - b > b - a, `backoff grows: ${b - a} ms then ${c - b} ms`);
  });

  test("a 429's Retry-After is the delay before the next try", async () => {
    stack.simulator.configure('first', { failNext: { failure: 'throttled', count: 1 }, retryAfterSeconds: 3 });
    const id = await send('+4530123403');
    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    const [throttled, accepted] = stack.simulator.submitsFor(id);
    assert.equal(throttled?.outcome, 'throttled');
    assert.equal(accepted?.outcome, 'accepted');
    const gap = (accepted?.receivedAt ?? 0) - (throttled?.receivedAt ?? 0);
    assert.ok(gap >= 3000 && gap < 4500, `waited ${gap} ms after Retry-After: 3`);
    stack.simulator.configure('first', { retryAfterSeconds: 1 });
  });

  test('an ambiguous submit on an at-most-once provider is never resent; its DLR still settles it', async () => {
    stack.simulator.configure('first', { dropNextAfterAccept: 1 });
    const id = await send('+4530123404');
    const view = await settled(id);
    assert.equal(stack.simulator.acceptedFor(id).length, 1);
    assert.deepEqual(statuses(view), ['accepted', 'routed@first', 'unknown@first', 'delivered@first']);
    assert.equal(view.events[2]?.errorCode, 'ambiguous_submit');
    assert.equal(view.status, 'delivered');
  });

  test('an ambiguous submit without a DLR ends unknown, sent once', async () => {
    stack.simulator.configure('first', { dropNextAfterAccept: 1, dlrDelayMs: 60_000 });
    await stack.db.provider.update({ where: { id: 'first' }, data: { dlrTimeoutSeconds: 1 } });
    await stack.refreshCatalogs();
    try {
      const id = await send('+4530123405');
      const view = await settled(id);
      assert.equal(view.status, 'unknown');
      assert.equal(view.errorCode, 'ambiguous_submit');
      assert.deepEqual(statuses(view), ['accepted', 'routed@first', 'unknown@first']);
      assert.equal(stack.simulator.acceptedFor(id).length, 1);
    } finally {
      stack.simulator.configure('first', { dlrDelayMs: 200 });
      await stack.db.provider.update({ where: { id: 'first' }, data: { dlrTimeoutSeconds: 30 } });
      await stack.refreshCatalogs();
    }
  });

  test('an ambiguous submit on an at-least-once provider is resent, and the event says so', async () => {
    stack.simulator.configure('resender', { dropNextAfterAccept: 1 });
    const id = await send('+4531123401');
    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    assert.deepEqual(statuses(view), ['accepted', 'routed@resender', 'attempt_failed@resender', 'submitted@resender', 'delivered@resender']);
    assert.match(view.events[2]?.reason ?? '', /resending \(at-least-once/);
    assert.deepEqual(stack.simulator.acceptedFor(id).map((entry) => entry.outcome), ['dropped', 'accepted']);
  });

  test('every candidate failing ends the message failed with the last reason', async () => {
    stack.simulator.configure('first', { failNext: { failure: 'invalid_number', count: 1 } });
    stack.simulator.configure('second', { failNext: { failure: 'auth', count: 1 } });
    const id = await send('+4530123406');
    const view = await settled(id);
    assert.equal(view.status, 'failed');
    assert.equal(view.errorCode, 'generic:unauthorized');
    assert.deepEqual(statuses(view), ['accepted', 'routed@first', 'attempt_failed@first', 'routed@second', 'attempt_failed@second', 'failed@second']);
  });
});

describe('every wire format over real HTTP', () => {
  const formats = [
    {
      dialect: 'vonage',
      prefix: '4540',
      credentials: { apiKey: 'vkey', apiSecret: 'vsecret', signatureSecret: 'vsig', signatureMethod: 'sha256' },
    },
    { dialect: 'twilio', prefix: '4541', credentials: { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'ttoken' } },
    { dialect: 'gatewayapi', prefix: '4542', credentials: { token: 'gtoken', webhookSecret: 'gsecret' } },
    { dialect: 'generic', prefix: '4543', credentials },
  ] as const;

  before(async () => {
    for (const format of formats) {
      await stack.addProvider({ id: `wire-${format.dialect}`, dialect: format.dialect, credentials: format.credentials, routes: [{ prefix: format.prefix }] });
    }
  });

  for (const [index, format] of formats.entries()) {
    const number = `+${format.prefix}1234${index}0`;
    test(`${format.dialect}: submitted once, signed DLR accepted, delivered`, async () => {
      const id = await send(number, `hello over ${format.dialect}`);
      const view = await settled(id);
      assert.equal(view.status, 'delivered');
      assert.deepEqual(statuses(view), ['accepted', `routed@wire-${format.dialect}`, `submitted@wire-${format.dialect}`, `delivered@wire-${format.dialect}`]);
      const [submit] = stack.simulator.acceptedFor(id);
      assert.equal(stack.simulator.acceptedFor(id).length, 1);
      assert.equal(submit?.submit.to.replace(/^\+/, ''), number.replace(/^\+/, ''));
      assert.equal(submit?.submit.body, `hello over ${format.dialect}`);
      await stack.simulator.drainCallbacks();
      const callbacks = stack.simulator.callbacks.filter((entry) => submit?.providerMessageIds.includes(entry.providerMessageId));
      assert.deepEqual(callbacks.map((entry) => entry.statusCode), [200]);
    });

    test(`${format.dialect}: an invalid-number answer fails the message without a retry`, async () => {
      stack.simulator.configure(`wire-${format.dialect}`, { failNext: { failure: 'invalid_number', count: 1 } });
      const id = await send(`+${format.prefix}1234${index}1`);
      const view = await settled(id);
      assert.equal(view.status, 'failed');
      assert.equal(stack.simulator.submitsFor(id).length, 1);
    });

    test(`${format.dialect}: a throttled answer is retried and then delivered`, async () => {
      stack.simulator.configure(`wire-${format.dialect}`, { failNext: { failure: 'throttled', count: 1 }, retryAfterSeconds: 1 });
      const id = await send(`+${format.prefix}1234${index}2`);
      const view = await settled(id);
      assert.equal(view.status, 'delivered');
      assert.deepEqual(stack.simulator.submitsFor(id).map((entry) => entry.outcome), ['throttled', 'accepted']);
    });
  }

  test('vonage: a two-part message is delivered only once both parts report delivered', async () => {
    const body = 'x'.repeat(200);
    const id = await send('+4540123499', body);
    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    const [submit] = stack.simulator.acceptedFor(id);
    assert.equal(submit?.providerMessageIds.length, 2);
    const message = await stack.db.message.findUniqueOrThrow({ where: { id } });
    assert.equal(message.segments, 2);
  });

  test('a DLR with a bad signature is refused with 401 and changes nothing', async () => {
    const response = await request(`${stack.api.url}/v1/dlr/wire-gatewayapi`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gwapi-signature': 'e30.e30.bad' },
      body: JSON.stringify({ id: 1, msisdn: 4542123400, time: 1, status: 'DELIVERED', userref: 'whatever' }),
    });
    assert.equal(response.statusCode, 401);
    await response.body.dump();
  });
});

describe('providers changing under traffic', () => {
  test('a provider disabled while a message waits is not used for its next attempt, and its worker stops polling', async () => {
    await stack.addProvider({
      id: 'slow-first',
      dialect: 'generic',
      credentials,
      routes: [{ prefix: '4532', priority: 0 }],
      behaviour: { latencyMs: 1_500, failNext: { failure: 'invalid_number', count: 1 } },
    });
    await stack.addProvider({ id: 'soon-disabled', dialect: 'generic', credentials, routes: [{ prefix: '4532', priority: 1 }] });
    await stack.addProvider({ id: 'last-resort', dialect: 'generic', credentials, routes: [{ prefix: '4532', priority: 2 }] });

    const id = await send('+4532123401');
    // The first provider holds its (permanent) refusal for 1.5 s; meanwhile the next one is disabled.
    await eventually(async () => (stack.simulator.submitsFor(id).length === 1 ? true : undefined));
    await stack.db.provider.update({ where: { id: 'soon-disabled' }, data: { enabled: false } });
    await stack.refreshCatalogs();

    const view = await settled(id);
    assert.equal(view.status, 'delivered');
    assert.deepEqual(statuses(view), [
      'accepted',
      'routed@slow-first',
      'attempt_failed@slow-first',
      'routed@last-resort',
      'submitted@last-resort',
      'delivered@last-resort',
    ]);
    assert.deepEqual(stack.simulator.submitsFor(id).map((entry) => entry.provider), ['slow-first', 'last-resort']);
    await eventually(async () => (stack.workers.dispatch.providerIds.includes('soon-disabled') ? undefined : true), 10_000, 'the disabled provider to stop polling');
  });
});
