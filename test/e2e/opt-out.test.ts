import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { keywordReplyMessageId } from '../../src/client/request';
import { DEMO_ACCOUNT_ID, DEMO_API_KEY, DEMO_NUMBER, DEMO_PROVIDERS } from '../../src/dev/seed';
import { DEFAULT_OPT_IN_REPLY, DEFAULT_OPT_OUT_REPLY } from '../../src/domain/keyword-reply';
import { NumbersService } from '../../src/inbound/numbers';
import { ProviderWebhookAdmin } from '../../src/routing/provider-webhooks';
import { eventually, startStack, type TestStack } from '../support/stack';

// STOP from a handset, then a send to it: rejected `opted_out` before any provider sees it.
// START: delivered again. Needs the suppression check in routing (src/activities/routing.ts).

let stack: TestStack;

interface MessageView {
  id: string;
  status: string;
  errorCode: string | null;
}

async function send(to: string): Promise<string> {
  const response = await request(`${stack.api.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, from: 'Acme', body: 'Your weekly offer' }),
  });
  assert.equal(response.statusCode, 202);
  const answer = (await response.body.json()) as { messages: { id: string }[] };
  return answer.messages[0]?.id ?? '';
}

async function settled(id: string): Promise<MessageView> {
  await stack.temporal.workflow.getHandle(id).result();
  const response = await request(`${stack.api.url}/v1/messages/${id}`, { headers: { authorization: `Bearer ${DEMO_API_KEY}` } });
  return (await response.body.json()) as MessageView;
}

/** A handset's text via `provider` (the generic simulator by default); resolves with its stored id once its workflow classified it. */
async function reply(from: string, text: string, provider = 'sim-generic'): Promise<string> {
  const url = provider === 'sim-generic' ? `${stack.api.url}/v1/inbound/sim-generic` : (await new ProviderWebhookAdmin(stack.db, stack.api.url).webhooks(provider)).inbound;
  const [sent] = await stack.simulator.sendInbound(provider, { from, to: DEMO_NUMBER, text, url });
  assert.ok(sent?.statusCode !== undefined && sent.statusCode < 300, `inbound webhook answered ${sent?.statusCode}`);
  // Its workflow classified it, and applied it to the suppression list first.
  const stored = await eventually(async () => (await stack.db.inboundMessage.findFirst({ where: { from, text, keyword: { not: null } } })) ?? undefined);
  return stored.id;
}

/** Every submit the simulator received for a number, on any provider, whoever sent it. */
function submitsTo(number: string) {
  const digits = number.replace(/^\+/, '');
  return stack.simulator.received.filter((entry) => entry.submit.to.replace(/^\+/, '') === digits);
}

before(async () => {
  stack = await startStack();
});

after(async () => {
  await stack?.close();
});

describe('opt-out', () => {
  test('STOP, then a send is rejected opted_out and the simulator received nothing; START, then it is delivered', async () => {
    const handset = '+447400123456';
    await reply(handset, 'STOP');
    const blocked = await send(handset);
    const outcome = await settled(blocked);
    assert.equal(outcome.status, 'rejected');
    assert.equal(outcome.errorCode, 'opted_out');
    assert.deepEqual(stack.simulator.submitsFor(blocked), []);

    await reply(handset, 'start');
    const allowed = await send(handset);
    assert.equal((await settled(allowed)).status, 'delivered');
    assert.equal(stack.simulator.acceptedFor(allowed).length, 1);
  });

  test('a provider refusing an opted-out recipient (Twilio 21610) ends the message rejected, fails over nowhere and blocks the next send', async () => {
    const twilio = { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'ttoken' };
    await stack.addProvider({ id: 'stop-twilio', dialect: 'twilio', credentials: twilio, routes: [{ prefix: '4479', priority: 0 }] });
    await stack.addProvider({ id: 'stop-fallback', dialect: 'generic', credentials: { apiKey: 'k' }, routes: [{ prefix: '4479', priority: 1 }] });
    stack.simulator.configure('stop-twilio', { failNext: { failure: 'opted_out', count: 1 } });
    const handset = '+447900123456';

    const refused = await send(handset);
    const outcome = await settled(refused);
    assert.equal(outcome.status, 'rejected');
    assert.equal(outcome.errorCode, 'opted_out');
    assert.equal(stack.simulator.submitsFor(refused).length, 1, 'only the provider that refused it saw it: no failover');
    const suppression = await stack.db.suppression.findUnique({ where: { accountId_number: { accountId: 'demo', number: handset } } });
    assert.equal(suppression?.reason, 'provider');
    assert.equal(suppression?.source, 'twilio:21610');

    // Routers cache a verdict for at most 0.5 s; the promise is "from then on, within 1 s".
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const next = await send(handset);
    assert.equal((await settled(next)).errorCode, 'opted_out');
    assert.deepEqual(stack.simulator.submitsFor(next), [], 'the next message reached no provider');
  });

  test('keyword replies on: STOP via Vonage gets exactly one confirmation, from our number, through Vonage; the next send is rejected opted_out and reaches no provider; START is confirmed too', async () => {
    const vonage = DEMO_PROVIDERS.find((provider) => provider.id === 'sim-vonage');
    assert.ok(vonage);
    await stack.addProvider({ id: vonage.id, dialect: vonage.adapter, credentials: vonage.credentials, routes: [], alreadySimulated: true });
    const numbers = new NumbersService(stack.db);
    await numbers.configureInbound(DEMO_ACCOUNT_ID, { keywordReplies: true });
    try {
      const handset = '+447400123458';
      // Vonage has no route at all: only the pin puts the reply there.
      const stop = await reply(handset, 'STOP', 'sim-vonage');
      const confirmation = keywordReplyMessageId(stop);
      await eventually(async () => (await stack.temporal.workflow.getHandle(confirmation).describe().catch(() => undefined)) && true);
      const outcome = await settled(confirmation);
      assert.equal(outcome.status, 'delivered');
      const [submit, ...others] = submitsTo(handset);
      assert.equal(others.length, 0, 'one confirmation, nothing else');
      assert.equal(submit?.provider, 'sim-vonage');
      assert.equal(submit?.submit.from.replace(/^\+/, ''), DEMO_NUMBER.replace(/^\+/, ''));
      assert.equal(submit?.submit.body, DEFAULT_OPT_OUT_REPLY);
      assert.equal(submit?.submit.reference, confirmation);
      const row = await stack.db.message.findUnique({ where: { id: confirmation } });
      assert.equal(row?.status, 'delivered', 'a normal outbound message: its row, its statuses, its DLR');

      const blocked = await send(handset);
      const next = await settled(blocked);
      assert.equal(next.status, 'rejected');
      assert.equal(next.errorCode, 'opted_out');
      assert.equal(submitsTo(handset).length, 1, 'the send after the confirmation reached no provider');

      // START is confirmed the same way, and the number is open again.
      const start = await reply(handset, 'START', 'sim-vonage');
      await eventually(async () => (await stack.temporal.workflow.getHandle(keywordReplyMessageId(start)).describe().catch(() => undefined)) && true);
      assert.equal((await settled(keywordReplyMessageId(start))).status, 'delivered');
      const [, welcome] = submitsTo(handset);
      assert.equal(welcome?.provider, 'sim-vonage');
      assert.equal(welcome?.submit.body, DEFAULT_OPT_IN_REPLY);
    } finally {
      await numbers.configureInbound(DEMO_ACCOUNT_ID, { keywordReplies: false });
    }
  });

  test('keyword replies off (the default): a STOP is applied and nothing is sent back', async () => {
    const handset = '+447400123459';
    const stop = await reply(handset, 'STOP');
    await stack.temporal.workflow.getHandle(stop).result();
    await assert.rejects(stack.temporal.workflow.getHandle(keywordReplyMessageId(stop)).describe(), /not found/i);
    assert.deepEqual(submitsTo(handset), []);
  });

  test("another account's STOP does not block this account", async () => {
    const handset = '+447400123457';
    await stack.db.account.create({ data: { id: 'other', name: 'Other' } });
    await stack.db.suppression.create({ data: { accountId: 'other', number: handset, reason: 'opt_out' } });
    assert.equal((await settled(await send(handset))).status, 'delivered');
  });
});
