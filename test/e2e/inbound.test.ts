import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { request } from 'undici';
import type { StatsReport } from '../../src/api/stats';
import { DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_NUMBER, DEMO_PROVIDERS } from '../../src/dev/seed';
import type { InboundNotification } from '../../src/domain/inbound';
import { NumbersService } from '../../src/inbound/numbers';
import { InboundStarter } from '../../src/inbound/starter';
import { SuppressionList } from '../../src/inbound/suppression';
import { twilioInboundDialect } from '../../src/simulator/dialects/twilio';
import { vonageInboundDialect } from '../../src/simulator/dialects/vonage';
import { ProviderWebhookAdmin } from '../../src/routing/provider-webhooks';
import { eventually, startStack, type TestStack } from '../support/stack';

/** The account's inbound webhook: records every POST, and fails the first `failures` of each message. */
class WebhookReceiver {
  readonly received: InboundNotification[] = [];
  readonly attempts = new Map<string, number>();
  failuresPerMessage = 0;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const notification = JSON.parse(Buffer.concat(chunks).toString('utf8')) as InboundNotification;
        const attempt = (this.attempts.get(notification.id) ?? 0) + 1;
        this.attempts.set(notification.id, attempt);
        if (attempt <= this.failuresPerMessage) {
          res.writeHead(500).end();
          return;
        }
        this.received.push(notification);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}/inbound`;
  }

  receivedFrom(from: string): InboundNotification[] {
    return this.received.filter((notification) => notification.from === from);
  }

  async close(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

let stack: TestStack;
const webhook = new WebhookReceiver();
/** The demo account owns it from the seed, on every provider. */
const OUR_NUMBER = DEMO_NUMBER;
const SHORT_CODE = '451204';
let nextSender = 100;
/** A sender of its own per test, so that tests never see each other's messages. */
const newSender = () => `+4477009${String(nextSender++).padStart(5, '0')}`;

/** Each provider's inbound webhook URL with our token, as the admin API shows it for the provider's dashboard. */
const inboundUrls = new Map<string, string>();
const inboundUrl = (provider: string): string => {
  const url = inboundUrls.get(provider);
  assert.ok(url, `no inbound URL for ${provider}`);
  return url;
};

async function inboundRows(from: string) {
  return stack.db.inboundMessage.findMany({ where: { from }, orderBy: { receivedAt: 'asc' } });
}

before(async () => {
  stack = await startStack();
  for (const provider of DEMO_PROVIDERS.filter((candidate) => candidate.id !== 'sim-generic')) {
    await stack.addProvider({ id: provider.id, dialect: provider.adapter, credentials: provider.credentials, routes: [], alreadySimulated: true });
  }
  await stack.addProvider({ id: 'unsigned-inbound', dialect: 'generic', credentials: { apiKey: 'k' }, routes: [] });
  const webhooks = new ProviderWebhookAdmin(stack.db, stack.api.url);
  for (const id of [...DEMO_PROVIDERS.map((provider) => provider.id), 'unsigned-inbound']) inboundUrls.set(id, (await webhooks.webhooks(id)).inbound);
  await webhook.start();
  await stack.db.account.update({ where: { id: DEMO_ACCOUNT_ID }, data: { inboundWebhookUrl: webhook.url } });
  await stack.db.ownedNumber.create({ data: { number: SHORT_CODE, accountId: DEMO_ACCOUNT_ID, providers: ['sim-gatewayapi'] } });
});

after(async () => {
  await stack?.close();
  await webhook.close();
});

describe('inbound SMS', () => {
  for (const provider of DEMO_PROVIDERS) {
    test(`${provider.adapter}: a signed reply from the simulator reaches the account's webhook`, async () => {
      const from = newSender();
      const to = provider.adapter === 'gatewayapi' ? SHORT_CODE : OUR_NUMBER;
      const sent = await stack.simulator.sendInbound(provider.id, { from, to, text: `Hello via ${provider.adapter}`, url: inboundUrl(provider.id) });
      assert.deepEqual(
        sent.map((call) => call.statusCode),
        [provider.adapter === 'generic' ? 204 : 200],
      );
      const [notification] = await eventually(async () => (webhook.receivedFrom(from).length > 0 ? webhook.receivedFrom(from) : undefined));
      assert.equal(notification?.text, `Hello via ${provider.adapter}`);
      assert.equal(notification?.to, to);
      assert.equal(notification?.provider, provider.id);
      const [row] = await inboundRows(from);
      assert.equal(row?.accountId, DEMO_ACCOUNT_ID);
      await eventually(async () => ((await inboundRows(from))[0]?.deliveredAt ? true : undefined));
    });
  }

  test('twilio is answered with an empty TwiML response', async () => {
    const twilio = DEMO_PROVIDERS.find((provider) => provider.adapter === 'twilio');
    assert.ok(twilio);
    const url = inboundUrl(twilio.id);
    const callback = twilioInboundDialect.inboundCallback(
      { from: newSender(), to: OUR_NUMBER, text: 'hi' },
      { providerMessageId: 'SMtwiml000000000000000000000000000', text: 'hi' },
      url,
      twilio.credentials,
    );
    const response = await request(url, { method: 'POST', headers: callback.headers, body: callback.body });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/xml/);
    assert.equal(await response.body.text(), '<Response></Response>');
  });

  test('vonage: parts sent out of order become one message, told only once all are in', async () => {
    const vonage = DEMO_PROVIDERS.find((provider) => provider.adapter === 'vonage');
    assert.ok(vonage);
    const from = newSender();
    const url = inboundUrl(vonage.id);
    const texts = ['Hello th', 'ere, this is a ', 'long reply'];
    const callbacks = texts.map((text, index) =>
      vonageInboundDialect.inboundCallback(
        { from, to: OUR_NUMBER, text: texts.join('') },
        { providerMessageId: `0A00000000PART${index + 1}`, text, concat: { ref: '77', total: 3, part: index + 1 } },
        url,
        vonage.credentials,
      ),
    );
    const post = async (index: number) => {
      const callback = callbacks[index];
      assert.ok(callback);
      const response = await request(url, { method: 'POST', headers: callback.headers, body: callback.body });
      await response.body.dump();
      return response.statusCode;
    };
    assert.equal(await post(2), 200);
    assert.equal(await post(0), 200);
    // A provider's retry of a part changes nothing.
    assert.equal(await post(0), 200);
    assert.equal((await inboundRows(from)).length, 0, 'no message before its last part');
    assert.equal(await post(1), 200);
    const [row, ...others] = await inboundRows(from);
    assert.equal(others.length, 0);
    assert.equal(row?.text, 'Hello there, this is a long reply');
    assert.equal(row?.parts, 3);
    assert.equal(row?.id, `${vonage.id}:0A00000000PART1`);
    const delivered = await eventually(async () => (webhook.receivedFrom(from).length > 0 ? webhook.receivedFrom(from) : undefined));
    assert.deepEqual(
      delivered.map((notification) => notification.text),
      ['Hello there, this is a long reply'],
    );
    // A retry after the message was joined is the same message again, not a new one.
    assert.equal(await post(1), 200);
    assert.equal((await inboundRows(from)).length, 1);
  });

  test('vonage: parts arriving at the same time are joined exactly once', async () => {
    const vonage = DEMO_PROVIDERS.find((provider) => provider.adapter === 'vonage');
    assert.ok(vonage);
    const url = inboundUrl(vonage.id);
    for (let round = 0; round < 5; round++) {
      const from = newSender();
      const texts = ['one ', 'two ', 'three ', 'four'];
      const callbacks = texts.map((text, index) =>
        vonageInboundDialect.inboundCallback(
          { from, to: OUR_NUMBER, text: texts.join('') },
          { providerMessageId: `0B0000000${round}PART${index + 1}`, text, concat: { ref: String(round), total: texts.length, part: index + 1 } },
          url,
          vonage.credentials,
        ),
      );
      const statuses: number[] = await Promise.all(
        callbacks.map(async (callback): Promise<number> => {
          const response = await request(url, { method: 'POST', headers: callback.headers, body: callback.body });
          await response.body.dump();
          return response.statusCode;
        }),
      );
      assert.deepEqual(statuses, [200, 200, 200, 200]);
      const rows = await inboundRows(from);
      assert.deepEqual(
        rows.map((row) => row.text),
        ['one two three four'],
      );
    }
  });

  test('vonage: the simulator splits and reverses parts on demand', async () => {
    const from = newSender();
    const text = 'Part one, part two, part three and the end';
    const sent = await stack.simulator.sendInbound('sim-vonage', { from, to: OUR_NUMBER, text, url: inboundUrl('sim-vonage'), parts: 3, outOfOrder: true });
    assert.equal(sent.length, 3);
    const [notification] = await eventually(async () => (webhook.receivedFrom(from).length > 0 ? webhook.receivedFrom(from) : undefined));
    assert.equal(notification?.text, text);
    assert.equal(notification?.parts, 3);
  });

  test('the simulator sends a reply on demand over its control endpoint', async () => {
    const from = newSender();
    const response = await request(`${stack.simulator.url}/_control/sim-gatewayapi/inbound`, {
      method: 'POST',
      body: JSON.stringify({ from, to: SHORT_CODE, text: 'via control', url: inboundUrl('sim-gatewayapi') }),
    });
    assert.equal(response.statusCode, 200);
    const answer = (await response.body.json()) as { sent: { statusCode: number }[] };
    assert.deepEqual(
      answer.sent.map((call) => call.statusCode),
      [200],
    );
    const [notification] = await eventually(async () => (webhook.receivedFrom(from).length > 0 ? webhook.receivedFrom(from) : undefined));
    assert.equal(notification?.text, 'via control');
    const malformed = await request(`${stack.simulator.url}/_control/sim-gatewayapi/inbound`, { method: 'POST', body: '{"from":1}' });
    assert.equal(malformed.statusCode, 400);
    await malformed.body.dump();
  });

  test("on a shared short code the account's keyword is stripped: \"foo STOP\" is a STOP, and the webhook gets \"STOP\"", async () => {
    const shared = '451205';
    await new NumbersService(stack.db).addNumber({ number: shared, account: DEMO_ACCOUNT_ID, providers: ['sim-gatewayapi'], keyword: 'foo' });
    const from = newSender();
    await stack.simulator.sendInbound('sim-gatewayapi', { from, to: shared, text: 'foo STOP', url: inboundUrl('sim-gatewayapi') });
    const [notification] = await eventually(async () => (webhook.receivedFrom(from).length > 0 ? webhook.receivedFrom(from) : undefined));
    assert.equal(notification?.text, 'STOP');
    assert.equal(notification?.keyword, 'opt_out');
    assert.ok(await stack.db.suppression.findUnique({ where: { accountId_number: { accountId: DEMO_ACCOUNT_ID, number: from } } }));
    // Only the first word, and only the keyword: "foods" is the sender's own text.
    await stack.simulator.sendInbound('sim-gatewayapi', { from, to: shared, text: 'foods please', url: inboundUrl('sim-gatewayapi') });
    const second = await eventually(async () => webhook.receivedFrom(from)[1]);
    assert.equal(second.text, 'foods please');
  });

  test('with Temporal unreachable a reply is acknowledged and stored, and reaches the webhook once Temporal is back', async () => {
    const from = newSender();
    // The stack's forwarder stopped, and one whose Temporal is unreachable in its place.
    await stack.workers.reconciler.stop();
    const unreachable = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const starter = new InboundStarter(stack.db, unreachable, pino({ level: 'silent' }), { webhookRetrySeconds: 60, leaseMs: 60_000, retryDelayMs: 100 });
    try {
      const sent = await stack.simulator.sendInbound('sim-generic', { from, to: OUR_NUMBER, text: 'anyone home?', url: inboundUrl('sim-generic') });
      assert.deepEqual(
        sent.map((call) => call.statusCode),
        [204],
      );
      // A deadline of its own: the unreachable address would otherwise be retried for a long time.
      assert.equal(await unreachable.connection.withDeadline(Date.now() + 3000, () => starter.runOnce()), 1);
      const [row] = await inboundRows(from);
      assert.equal(row?.workflowStartedAt, null, 'not started while Temporal is unreachable');
      assert.equal(webhook.receivedFrom(from).length, 0);
    } finally {
      await unreachable.connection.close().catch(() => undefined);
      await stack.restartWorkers();
    }
    const [notification] = await eventually(async () => (webhook.receivedFrom(from).length > 0 ? webhook.receivedFrom(from) : undefined), 30_000);
    assert.equal(notification?.text, 'anyone home?');
    assert.ok((await inboundRows(from))[0]?.workflowStartedAt);
  });

  test("a reply reaches the account's webhook after it failed twice", async () => {
    const from = newSender();
    webhook.failuresPerMessage = 2;
    try {
      await stack.simulator.sendInbound('sim-generic', { from, to: OUR_NUMBER, text: 'persistent', url: inboundUrl('sim-generic') });
      const [notification] = await eventually(async () => (webhook.receivedFrom(from).length > 0 ? webhook.receivedFrom(from) : undefined), 30_000);
      assert.ok(notification);
      assert.equal(webhook.attempts.get(notification.id), 3);
      await eventually(async () => ((await inboundRows(from))[0]?.deliveredAt ? true : undefined));
    } finally {
      webhook.failuresPerMessage = 0;
    }
  });

  test('replies of one number pair reach the webhook in the order they were received', async () => {
    const from = newSender();
    const texts = ['first', 'second', 'third', 'fourth'];
    for (const [index, text] of texts.entries()) {
      const response = await request(inboundUrl('sim-generic'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-dlr-secret': 'sim-generic-dlr-secret' },
        body: JSON.stringify({ id: `order-${from}-${index}`, from, to: OUR_NUMBER, text, receivedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString() }),
      });
      assert.equal(response.statusCode, 204);
      await response.body.dump();
    }
    const delivered = await eventually(async () => (webhook.receivedFrom(from).length === texts.length ? webhook.receivedFrom(from) : undefined));
    assert.deepEqual(
      delivered.map((notification) => notification.text),
      texts,
    );
  });

  test('a provider retry is one message, delivered once', async () => {
    const from = newSender();
    const body = JSON.stringify({ id: `retry-${from}`, from, to: OUR_NUMBER, text: 'once' });
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await request(inboundUrl('sim-generic'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-dlr-secret': 'sim-generic-dlr-secret' },
        body,
      });
      assert.equal(response.statusCode, 204);
      await response.body.dump();
    }
    await eventually(async () => (webhook.receivedFrom(from).length > 0 ? true : undefined));
    await stack.temporal.workflow.getHandle(`sim-generic:retry-${from}`).result();
    assert.equal((await inboundRows(from)).length, 1);
    assert.equal(webhook.receivedFrom(from).length, 1);
  });

  test('a provider without a secret: an inbound message without our token is refused 401 and stored nowhere; with it, accepted', async () => {
    const from = newSender();
    const post = async (url: string) => {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: `unsigned-${from}`, from, to: OUR_NUMBER, text: 'hello' }),
      });
      await response.body.dump();
      return response.statusCode;
    };
    assert.equal(await post(`${stack.api.url}/v1/inbound/unsigned-inbound`), 401);
    assert.equal(await post(`${stack.api.url}/v1/inbound/unsigned-inbound?token=forged`), 401);
    assert.equal(await post(`${inboundUrl('sim-generic').replace('/sim-generic?', '/unsigned-inbound?')}`), 401, "another provider's token");
    assert.equal((await inboundRows(from)).length, 0);
    assert.equal(await post(inboundUrl('unsigned-inbound')), 204);
    assert.equal((await inboundRows(from)).length, 1);
  });

  test('a message to a number nobody owns is stored and counted, never forwarded', async () => {
    const from = newSender();
    const sent = await stack.simulator.sendInbound('sim-generic', { from, to: '+447700900999', text: 'anyone?', url: inboundUrl('sim-generic') });
    assert.deepEqual(
      sent.map((call) => call.statusCode),
      [204],
    );
    const [row] = await inboundRows(from);
    assert.ok(row);
    assert.equal(row.accountId, null);
    // Acknowledged once stored: the forwarder starts its workflow afterwards.
    await eventually(async () => ((await stack.db.inboundMessage.findUnique({ where: { id: row.id } }))?.workflowStartedAt ? true : undefined));
    const outcome = await stack.temporal.workflow.getHandle(row.id).result();
    assert.deepEqual(outcome, { accountId: null, keyword: null });
    assert.equal(webhook.receivedFrom(from).length, 0);
    const metrics = await (await request(`${stack.api.opsUrl}/metrics`)).body.text();
    assert.match(metrics, /smsrouter_inbound_messages_total\{provider="sim-generic",owned="false"\} [1-9]/);
  });

  test('STOP puts the sender on the suppression list, START takes it off', async () => {
    const from = newSender();
    const suppressions = new SuppressionList(stack.db);
    assert.equal(await suppressions.isSuppressed(DEMO_ACCOUNT_ID, from), false);
    await stack.simulator.sendInbound('sim-twilio', { from, to: OUR_NUMBER, text: ' Stop ', url: inboundUrl('sim-twilio') });
    await eventually(async () => ((await suppressions.isSuppressed(DEMO_ACCOUNT_ID, from)) ? true : undefined), 5_000, 'suppressed');
    const [stop] = await eventually(async () => (webhook.receivedFrom(from).length > 0 ? webhook.receivedFrom(from) : undefined));
    assert.equal(stop?.keyword, 'opt_out');

    await stack.simulator.sendInbound('sim-twilio', { from, to: OUR_NUMBER, text: 'START', url: inboundUrl('sim-twilio') });
    await eventually(async () => ((await suppressions.isSuppressed(DEMO_ACCOUNT_ID, from)) ? undefined : true), 5_000, 'no longer suppressed');
  });

  test('a bad signature is 401, a malformed message 400, an unknown provider 404; nothing is stored', async () => {
    const from = newSender();
    const post = async (provider: string, headers: Record<string, string>, body: string) => {
      const response = await request(inboundUrls.get(provider) ?? `${stack.api.url}/v1/inbound/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const answer = (await response.body.json()) as { error: { code: string } };
      return [response.statusCode, answer.error.code];
    };
    const message = JSON.stringify({ id: `bad-${from}`, from, to: OUR_NUMBER, text: 'STOP' });
    assert.deepEqual(await post('sim-generic', { 'x-dlr-secret': 'guess' }, message), [401, 'unauthorized']);
    assert.deepEqual(await post('sim-generic', { 'x-dlr-secret': 'sim-generic-dlr-secret' }, message.replace('STOP', 'ST\\u0000OP')), [400, 'malformed_inbound_message']);
    assert.deepEqual(await post('sim-vonage', {}, JSON.stringify({ msisdn: from.slice(1), to: OUR_NUMBER.slice(1), messageId: 'x', text: 'STOP' })), [401, 'unauthorized']);
    assert.deepEqual(await post('nobody', {}, message), [404, 'unknown_provider']);
    assert.equal((await inboundRows(from)).length, 0);
  });

  test('GET /v1/inbound lists the account its messages, filtered by number and time', async () => {
    const from = newSender();
    await stack.simulator.sendInbound('sim-generic', { from, to: OUR_NUMBER, text: 'listed', url: inboundUrl('sim-generic') });
    const list = async (query: string, key = DEMO_API_KEY) => {
      const response = await request(`${stack.api.url}/v1/inbound?${query}`, { headers: { authorization: `Bearer ${key}` } });
      return { status: response.statusCode, body: (await response.body.json()) as { messages: { text: string; from: string }[] } };
    };
    const byFrom = await list(`from=${encodeURIComponent(from)}&to=${encodeURIComponent(OUR_NUMBER)}`);
    assert.equal(byFrom.status, 200);
    assert.deepEqual(
      byFrom.body.messages.map((message) => message.text),
      ['listed'],
    );
    // Digits without '+' are the same number.
    assert.equal((await list(`from=${from.slice(1)}`)).body.messages.length, 1);
    assert.equal((await list(`from=${encodeURIComponent(from)}&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body.messages.length, 0);
    assert.equal((await list('from=not-a-number')).status, 400);
    assert.equal((await list('', 'wrong-key')).status, 401);
  });

  test('GET /v1/stats counts inbound messages per number and country, and opt-outs per day', async () => {
    const response = await request(`${stack.api.url}/v1/stats`, { headers: { authorization: `Bearer ${DEMO_API_KEY}` } });
    const body = await response.body.text();
    assert.equal(response.statusCode, 200, body);
    const { inbound: stats } = JSON.parse(body) as StatsReport;
    // The default range is the last day: the ordering test's messages carry a January receivedAt.
    const lastDay = { accountId: DEMO_ACCOUNT_ID, receivedAt: { gte: new Date(Date.now() - 86_400_000) } };
    assert.equal(stats.byNumber.find((group) => group.number === OUR_NUMBER)?.total, await stack.db.inboundMessage.count({ where: { ...lastDay, to: OUR_NUMBER } }));
    assert.equal(stats.byNumber.find((group) => group.number === SHORT_CODE)?.total, await stack.db.inboundMessage.count({ where: { ...lastDay, to: SHORT_CODE } }));
    assert.equal(
      stats.byCountry.reduce((sum, group) => sum + group.total, 0),
      await stack.db.inboundMessage.count({ where: lastDay }),
    );
    const today = stats.optOutsPerDay.find((day) => day.day === new Date().toISOString().slice(0, 10));
    // The STOP / START test above.
    assert.ok((today?.optOuts ?? 0) >= 1 && (today?.optIns ?? 0) >= 1, JSON.stringify(stats.optOutsPerDay));
  });
});
