import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { keywordReplyMessageId } from '../../src/client/request';
import { confirmsOwnOptOut } from '../../src/inbound/keyword-replies';
import { SuppressionList } from '../../src/inbound/suppression';
import { createTestDatabase, type TestDatabase } from '../support/database';

let database: TestDatabase;

before(async () => {
  database = await createTestDatabase('suppression');
  await database.db.account.createMany({ data: [{ id: 'a', name: 'A' }, { id: 'b', name: 'B' }] });
});

after(async () => {
  await database?.drop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('suppression list', () => {
  test('an added pair is suppressed for that account only, until removed', async () => {
    const list = new SuppressionList(database.db);
    assert.equal(await list.isSuppressed('a', '+447700900001'), false);
    await list.add('a', '+447700900001', 'opt_out', 'sim:1');
    assert.equal(await list.isSuppressed('a', '+447700900001'), true);
    assert.equal(await list.isSuppressed('b', '+447700900001'), false);
    assert.equal(await list.remove('a', '+447700900001'), true);
    assert.equal(await list.isSuppressed('a', '+447700900001'), false);
    assert.equal(await list.remove('a', '+447700900001'), false);
  });

  test('adding twice keeps the first reason', async () => {
    const list = new SuppressionList(database.db);
    await list.add('a', '+447700900002', 'opt_out', 'sim:2');
    await list.add('a', '+447700900002', 'manual', 'admin');
    const [entry, ...rest] = await list.list('a', { number: '+447700900002', limit: 10 });
    assert.equal(rest.length, 0);
    assert.equal(entry?.reason, 'opt_out');
    assert.equal(entry?.source, 'sim:2');
  });

  test('the list read through other connections sees a change made through it at once', async () => {
    const routing = new SuppressionList(database.db, 60_000);
    const submits = routing.through(database.db);
    assert.equal(await submits.isSuppressed('a', '+447700900004'), false);
    await routing.add('a', '+447700900004', 'opt_out', 'sim:4');
    assert.equal(await submits.isSuppressed('a', '+447700900004'), true, 'STOP holds for the next submit');
    await routing.remove('a', '+447700900004');
    assert.equal(await submits.isSuppressed('a', '+447700900004'), false, 'START holds for the next submit');
  });

  test("another process's change is seen once its cached verdict expires", async () => {
    const sender = new SuppressionList(database.db, 300);
    const inbound = new SuppressionList(database.db, 300);
    assert.equal(await sender.isSuppressed('b', '+447700900003'), false);
    await inbound.add('b', '+447700900003', 'opt_out', 'sim:3');
    await sleep(350);
    assert.equal(await sender.isSuppressed('b', '+447700900003'), true);
    await inbound.remove('b', '+447700900003');
    await sleep(350);
    assert.equal(await sender.isSuppressed('b', '+447700900003'), false);
  });
});

describe('keyword replies past the suppression list', () => {
  const handset = '+447400000009';
  const reply = { inboundId: 'sim:9', providerId: 'sim' };
  const confirmation = { messageId: keywordReplyMessageId('sim:9'), accountId: 'a', to: handset };

  before(async () => {
    await database.db.inboundMessage.createMany({
      data: [
        { id: 'sim:9', providerId: 'sim', providerMessageId: '9', accountId: 'a', from: handset, to: '+447700900000', text: 'STOP', encoding: 'gsm7', keyword: 'opt_out', receivedAt: new Date() },
        { id: 'sim:10', providerId: 'sim', providerMessageId: '10', accountId: 'a', from: handset, to: '+447700900000', text: 'START', encoding: 'gsm7', keyword: 'opt_in', receivedAt: new Date() },
      ],
    });
  });

  test("the confirmation of the number's own opt-out passes", async () => {
    assert.equal(await confirmsOwnOptOut(database.db, reply, confirmation), true);
  });

  const refused: readonly { label: string; reply: typeof reply; message: typeof confirmation }[] = [
    { label: 'a message whose id is not derived from the opt-out', reply, message: { ...confirmation, messageId: keywordReplyMessageId('sim:other') } },
    { label: "another account's message", reply, message: { ...confirmation, accountId: 'b' } },
    { label: 'a message to another number', reply, message: { ...confirmation, to: '+447400000010' } },
    { label: 'a message through another provider', reply: { ...reply, providerId: 'other' }, message: confirmation },
    { label: 'the reply to an opt-in', reply: { ...reply, inboundId: 'sim:10' }, message: { ...confirmation, messageId: keywordReplyMessageId('sim:10') } },
    { label: 'a reply to an inbound message that does not exist', reply: { ...reply, inboundId: 'sim:404' }, message: { ...confirmation, messageId: keywordReplyMessageId('sim:404') } },
  ];
  for (const { label, reply: claimed, message } of refused) {
    test(`${label} is held to the list`, async () => {
      assert.equal(await confirmsOwnOptOut(database.db, claimed, message), false);
    });
  }
});
