// Tenants and trust over the real stack: a second customer onboarded through the admin API alone
// sends, is isolated from the first (by id, through the Temporal fallback, by stats), is cut off by
// revoking its key or disabling its account; quotas answer 429 with Retry-After; hostile callback
// URLs and NUL characters are 4xx; /metrics lives on the ops listener only.

import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { eventually, startStack, type TestStack } from '../support/stack';

const ADMIN_KEY = 'tenants-test-admin-key-0123456789';

interface ErrorAnswer {
  error: { code: string; message: string; field?: string };
}

let stack: TestStack;
let endpoint: Server;
let callbackUrl: string;
const callbacks: { signature: string; body: string }[] = [];

interface Answer<T> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

async function call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, key: string, body?: unknown, base = stack.api.url): Promise<Answer<T>> {
  const response = await request(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

async function submit(key: string, message: Record<string, unknown>): Promise<string> {
  const sent = await call<{ messages: { id: string }[] }>('POST', '/v1/messages', key, { from: 'Acme', body: 'Your code is 1234', ...message });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const [first] = sent.body.messages;
  assert.ok(first);
  return first.id;
}

async function delivered(key: string, id: string): Promise<void> {
  await eventually(async () => ((await call<{ status: string }>('GET', `/v1/messages/${id}`, key)).body.status === 'delivered' ? true : undefined), 30_000, `${id} delivered`);
}

/** The README's recipe for X-Smsrouter-Signature, followed literally. */
function verifies(header: string, rawBody: string, secret: string): boolean {
  const fields = new Map(header.split(',').map((part) => part.split('=', 2) as [string, string]));
  const t = fields.get('t') ?? '';
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex');
  const given = fields.get('v1') ?? '';
  const fresh = Math.abs(Date.now() / 1000 - Number(t)) < 300;
  return fresh && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

before(async () => {
  process.env.ADMIN_API_KEY = ADMIN_KEY;
  stack = await startStack();
  endpoint = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      callbacks.push({ signature: String(req.headers['x-smsrouter-signature']), body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  callbackUrl = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/hook`;
});

after(async () => {
  delete process.env.ADMIN_API_KEY;
  endpoint?.close();
  await stack?.close();
});

describe('a second customer', () => {
  test('onboarded through the admin API alone, it sends, gets signed callbacks, is isolated from the first, and is cut off', async () => {
    const created = await call<{ id: string; callbackSecret: string }>('POST', '/v1/admin/accounts', ADMIN_KEY, { id: 'beta', name: 'Beta Ltd' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const issued = await call<{ id: string; key: string }>('POST', '/v1/admin/accounts/beta/keys', ADMIN_KEY, { label: 'first' });
    assert.equal(issued.status, 201);
    const betaKey = issued.body.key;

    const betaMessage = await submit(betaKey, { to: '+4560123401', clientRef: 'beta-1', callbackUrl });
    const demoMessage = await submit(DEMO_API_KEY, { to: '+4560123402', clientRef: 'beta-1' });
    assert.notEqual(betaMessage, demoMessage, 'the same client reference in two accounts is two messages');
    await Promise.all([delivered(betaKey, betaMessage), delivered(DEMO_API_KEY, demoMessage)]);

    // Its callbacks are signed with its own secret, as the admin API shows it.
    await eventually(async () => (callbacks.some((c) => c.body.includes('"delivered"')) ? true : undefined), 30_000, 'the delivered callback');
    const { callbackSecret } = (await call<{ callbackSecret: string }>('GET', '/v1/admin/accounts/beta', ADMIN_KEY)).body;
    assert.ok(callbacks.length > 0 && callbacks.every((c) => verifies(c.signature, c.body, callbackSecret)), JSON.stringify(callbacks));

    // Neither account sees the other's message, by id or in its statistics.
    for (const [key, foreign] of [[betaKey, demoMessage], [DEMO_API_KEY, betaMessage]] as const) {
      const read = await call<ErrorAnswer>('GET', `/v1/messages/${foreign}`, key);
      assert.equal(read.status, 404);
      const cancel = await call<ErrorAnswer>('DELETE', `/v1/messages/${foreign}`, key);
      assert.equal(cancel.status, 404);
    }
    const betaStats = await call<{ groups: { total: number }[] }>('GET', '/v1/stats?groupBy=status', betaKey);
    assert.equal(betaStats.status, 200);
    assert.equal(betaStats.body.groups.reduce((sum, group) => sum + group.total, 0), 1);

    // Revoked: refused within the authenticator's 10 s.
    const revoked = await call('DELETE', `/v1/admin/keys/${issued.body.id}`, ADMIN_KEY);
    assert.equal(revoked.status, 200);
    await eventually(async () => ((await call('GET', `/v1/messages/${betaMessage}`, betaKey)).status === 401 ? true : undefined), 15_000, 'the revoked key refused');

    // Disabled: every key of the account is refused.
    const second = (await call<{ key: string }>('POST', '/v1/admin/accounts/beta/keys', ADMIN_KEY)).body.key;
    assert.equal((await call('GET', `/v1/messages/${betaMessage}`, second)).status, 200);
    const disabled = await call<{ enabled: boolean }>('PATCH', '/v1/admin/accounts/beta', ADMIN_KEY, { enabled: false });
    assert.equal(disabled.body.enabled, false);
    await eventually(
      async () => ((await call('POST', '/v1/messages', second, { to: '+4560123403', from: 'Acme', body: 'x' })).status === 401 ? true : undefined),
      15_000,
      'the disabled account refused',
    );
    assert.equal((await call('GET', `/v1/messages/${demoMessage}`, DEMO_API_KEY)).status, 200, 'the first customer is unaffected');
  });

  test('a message known only to Temporal is answered to its own account only', async () => {
    await call('POST', '/v1/admin/accounts', ADMIN_KEY, { id: 'gamma', name: 'Gamma' });
    const gammaKey = (await call<{ key: string }>('POST', '/v1/admin/accounts/gamma/keys', ADMIN_KEY)).body.key;
    // Scheduled an hour ahead: its workflow runs, waiting. Without its row, GET asks Temporal.
    const id = await submit(DEMO_API_KEY, { to: '+4560123404', sendAt: new Date(Date.now() + 3600_000).toISOString() });
    await eventually(async () => ((await stack.db.message.findUnique({ where: { id } })) ? true : undefined), 10_000, 'its row');
    await stack.db.messageEvent.deleteMany({ where: { messageId: id } });
    await stack.db.message.delete({ where: { id } });
    try {
      const own = await call<{ status: string }>('GET', `/v1/messages/${id}`, DEMO_API_KEY);
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.equal(own.body.status, 'scheduled');
      const foreign = await call<ErrorAnswer>('GET', `/v1/messages/${id}`, gammaKey);
      assert.equal(foreign.status, 404, JSON.stringify(foreign.body));
      // Any other workflow id (here its callbacks workflow's would-be id) is no message either.
      assert.equal((await call('GET', `/v1/messages/${encodeURIComponent(`${id}/callbacks`)}`, DEMO_API_KEY)).status, 404);
    } finally {
      await stack.temporal.workflow.getHandle(id).terminate('test done');
    }
  });
});

describe('quotas', () => {
  test('past its daily cap an account gets 429 with Retry-After, and nothing is started', async () => {
    await call('POST', '/v1/admin/accounts', ADMIN_KEY, { id: 'capped', name: 'Capped', dailyMessageCap: 2 });
    const key = (await call<{ key: string }>('POST', '/v1/admin/accounts/capped/keys', ADMIN_KEY)).body.key;
    const batch = await call('POST', '/v1/messages', key, { recipients: ['+4560123410', '+4560123411'], from: 'Acme', body: 'x' });
    assert.equal(batch.status, 202);
    const over = await call<ErrorAnswer>('POST', '/v1/messages', key, { to: '+4560123412', from: 'Acme', body: 'x', clientRef: 'over' });
    assert.equal(over.status, 429, JSON.stringify(over.body));
    assert.equal(over.body.error.code, 'quota_exceeded');
    assert.ok(Number(over.headers['retry-after']) >= 1, `Retry-After: ${String(over.headers['retry-after'])}`);
    await eventually(async () => ((await stack.db.message.count({ where: { accountId: 'capped' } })) === 2 ? true : undefined), 10_000, 'two messages');
    assert.equal(await stack.db.message.count({ where: { accountId: 'capped', clientRef: 'over' } }), 0);
  });

  test("a campaign counts all its recipients against the daily cap, and belongs to its account alone", async () => {
    await call('POST', '/v1/admin/accounts', ADMIN_KEY, { id: 'capped-campaign', name: 'Capped campaign', dailyMessageCap: 3 });
    const key = (await call<{ key: string }>('POST', '/v1/admin/accounts/capped-campaign/keys', ADMIN_KEY)).body.key;
    const recipients = ['+4560123610', '+4560123611', '+4560123612', '+4560123613'];
    const over = await call<ErrorAnswer>('POST', '/v1/campaigns', key, { recipients, from: 'Acme', body: 'x' });
    assert.equal(over.status, 429, JSON.stringify(over.body));
    assert.equal(over.body.error.code, 'quota_exceeded');
    assert.equal(await stack.db.campaign.count({ where: { accountId: 'capped-campaign' } }), 0);
    const fits = await call<{ id: string }>('POST', '/v1/campaigns', key, { recipients: recipients.slice(0, 3), from: 'Acme', body: 'x' });
    assert.equal(fits.status, 202, JSON.stringify(fits.body));
    assert.equal((await call('GET', `/v1/campaigns/${fits.body.id}`, key)).status, 200);
    assert.equal((await call('GET', `/v1/campaigns/${fits.body.id}`, DEMO_API_KEY)).status, 404);
    assert.equal((await call('DELETE', `/v1/campaigns/${fits.body.id}`, DEMO_API_KEY)).status, 404);
    const full = await call<ErrorAnswer>('POST', '/v1/messages', key, { to: '+4560123614', from: 'Acme', body: 'x' });
    assert.equal(full.status, 429, JSON.stringify(full.body));
  });

  test('past its per-second quota an account gets 429 with Retry-After', async () => {
    await call('POST', '/v1/admin/accounts', ADMIN_KEY, { id: 'throttled', name: 'Throttled', maxMessagesPerSecond: 1 });
    const key = (await call<{ key: string }>('POST', '/v1/admin/accounts/throttled/keys', ADMIN_KEY)).body.key;
    // A batch of 40 passes on a full bucket and leaves it 39 s in debt, far longer than the next request takes.
    const recipients = Array.from({ length: 40 }, (_, index) => `+456012${String(3500 + index)}`);
    const batch = await call('POST', '/v1/messages', key, { recipients, from: 'Acme', body: 'x' });
    assert.equal(batch.status, 202, JSON.stringify(batch.body));
    const over = await call<ErrorAnswer>('POST', '/v1/messages', key, { to: '+4560123499', from: 'Acme', body: 'x' });
    assert.equal(over.status, 429, JSON.stringify(over.body));
    assert.equal(over.body.error.code, 'quota_exceeded');
    assert.ok(Number(over.headers['retry-after']) > 1, `Retry-After: ${String(over.headers['retry-after'])}`);
  });
});

describe('hostile input', () => {
  const refusedCallbacks = [
    'http://169.254.169.254/latest/meta-data/',
    'http://[fe80::1]/hook',
    'http://[::ffff:169.254.169.254]/',
    'http://0xa9fea9fe/',
    'http://0.0.0.0/',
  ];
  for (const url of refusedCallbacks) {
    test(`callbackUrl ${url} is a 400 naming callbackUrl, and nothing is started`, async () => {
      const answer = await call<ErrorAnswer>('POST', '/v1/messages', DEMO_API_KEY, { to: '+4560123420', from: 'Acme', body: 'x', callbackUrl: url, clientRef: `ssrf-${url}` });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error.field, 'callbackUrl');
      assert.equal(await stack.db.message.count({ where: { clientRef: `ssrf-${url}` } }), 0);
    });
  }

  test('a loopback callbackUrl is accepted when CALLBACK_ALLOW_PRIVATE is set, as the test stack does', async () => {
    const answer = await call('POST', '/v1/messages', DEMO_API_KEY, { to: '+4560123421', from: 'Acme', body: 'x', callbackUrl });
    assert.equal(answer.status, 202);
  });

  test('NUL characters are a 400, never a 500', async () => {
    const cases: readonly { method: 'GET' | 'POST' | 'DELETE'; path: string; body?: unknown; field: string }[] = [
      { method: 'POST', path: '/v1/messages', body: { to: '+4560123430', from: 'Acme', body: 'x', clientRef: 'a\u0000b' }, field: 'clientRef' },
      { method: 'POST', path: '/v1/messages', body: { recipients: [{ to: '+4560123430', clientRef: '\u0000' }], from: 'Acme', body: 'x' }, field: 'recipients.0' },
      { method: 'POST', path: '/v1/messages', body: { to: '+4560123430', from: 'Ac\u0000me', body: 'x' }, field: 'from' },
      { method: 'POST', path: '/v1/messages', body: { to: '+4560123430', from: 'Acme', body: 'x\u0000' }, field: 'body' },
      { method: 'GET', path: '/v1/messages/%00', field: 'id' },
      { method: 'GET', path: '/v1/messages/abc%00def', field: 'id' },
      { method: 'DELETE', path: '/v1/messages/%00', field: 'id' },
    ];
    for (const { method, path, body, field } of cases) {
      const answer = await call<ErrorAnswer>(method, path, DEMO_API_KEY, body);
      assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error.field, field, `${method} ${path}`);
    }
  });
});

describe('the ops listener', () => {
  test('/metrics answers on the ops listener, on loopback, and not on the public listener', async () => {
    const publicAnswer = await request(`${stack.api.url}/metrics`);
    assert.equal(publicAnswer.statusCode, 404);
    await publicAnswer.body.dump();
    assert.match(stack.api.opsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const ops = await request(`${stack.api.opsUrl}/metrics`);
    assert.equal(ops.statusCode, 200);
    assert.match(await ops.body.text(), /smsrouter_messages_accepted_total/);
  });
});
