import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { InboundStore } from '../../src/inbound/store';
import { InboxListener, type InboxNews } from '../../src/inbox/channel';
import { DeliveryReportInbox } from '../../src/inbox/delivery-reports';
import { createTestDatabase, type TestDatabase } from '../support/database';

const silent = pino({ level: 'silent' });
let database: TestDatabase;

before(async () => {
  database = await createTestDatabase('inbox_listener');
});

after(async () => {
  await database.drop();
});

test('the listener says what each write announced: a report flush reports, a stored inbound message inbound, and its own start all', async () => {
  const heard: (InboxNews | 'all')[] = [];
  const listener = new InboxListener(database.url, (news) => heard.push(news), silent);
  const inbox = new DeliveryReportInbox(database.url, { maxRows: 100, lingerMs: 1, notifySpacingMs: 0 }, silent);
  const hear = async (count: number) => {
    while (heard.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  try {
    await listener.start();
    await hear(1);
    await inbox.append([{ providerId: 'acme', report: { messageId: 'order-1', providerMessageId: 'part-1', status: 'delivered', providerStatus: 'DELIVRD', occurredAt: '2026-01-02T03:04:05.000Z' } }]);
    await hear(2);
    await new InboundStore(database.db).receive('acme', { providerMessageId: 'in-1', from: '+4520123456', to: '+4570000000', text: 'hello', encoding: 'gsm7', receivedAt: '2026-01-02T03:04:05.000Z' });
    await hear(3);
    assert.deepEqual(heard, ['all', 'reports', 'inbound']);
  } finally {
    await inbox.close();
    await listener.close();
  }
});
