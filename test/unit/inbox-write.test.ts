import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from 'pg';
import pino from 'pino';
import { INBOX_CHANNEL } from '../../src/inbox/channel';
import { DeliveryReportInbox, deliveryReportOrderKey, INBOX_APPLICATION_NAME, type InboxReport } from '../../src/inbox/delivery-reports';
import { createTestDatabase, type TestDatabase } from '../support/database';

const silent = pino({ level: 'silent' });
let database: TestDatabase;

before(async () => {
  database = await createTestDatabase('inbox');
});

after(async () => {
  await database.drop();
});

function report(index: number, messageId?: string): InboxReport {
  return {
    providerId: 'acme',
    report: {
      ...(messageId === undefined ? {} : { messageId }),
      providerMessageId: `part-${index}`,
      status: index % 2 ? 'delivered' : 'enroute',
      providerStatus: 'DELIVRD',
      occurredAt: '2026-01-02T03:04:05.000Z',
    },
  };
}

test('concurrent appends land in the order they were made, each row whole, and one notification per flush wakes the forwarder', async () => {
  const listener = new Client({ connectionString: database.url });
  await listener.connect();
  const notified: string[] = [];
  listener.on('notification', (notification) => notified.push(notification.payload ?? ''));
  await listener.query(`LISTEN ${INBOX_CHANNEL}`);
  const inbox = new DeliveryReportInbox(database.url, { maxRows: 100, lingerMs: 5, notifySpacingMs: 0 }, silent);
  try {
    const messageId = '0b5e7a8c-1d2f-4a3b-9c8d-7e6f5a4b3c2d';
    const reports = [report(0, messageId), report(1), { ...report(2), report: { ...report(2).report, errorCode: 'x'.repeat(50), retryableOnOtherRoute: true } }];
    await Promise.all([inbox.append([reports[0]!]), inbox.append([reports[1]!, reports[2]!])]);
    const rows = await database.db.deliveryReport.findMany({ orderBy: { id: 'asc' } });
    assert.deepEqual(
      rows.map((row) => ({ providerId: row.providerId, messageId: row.messageId, providerMessageId: row.providerMessageId, status: row.status, payload: row.payload, orderKey: row.orderKey })),
      reports.map(({ providerId, report: stored }) => ({
        providerId,
        messageId: stored.messageId ?? null,
        providerMessageId: stored.providerMessageId,
        status: stored.status,
        payload: stored,
        orderKey: deliveryReportOrderKey(providerId, stored.messageId, stored.providerMessageId),
      })),
    );
    while (notified.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(notified, ['3']);
  } finally {
    await inbox.close();
    await listener.end();
    await database.db.deliveryReport.deleteMany();
  }
});

test('each flush that wrote is told to the observer with the rows it carried', async () => {
  const flushes: { rows: number; seconds: number }[] = [];
  const inbox = new DeliveryReportInbox(database.url, { maxRows: 2, lingerMs: 5, notifySpacingMs: 0 }, silent, (rows, seconds) => flushes.push({ rows, seconds }));
  try {
    // Two callers fill the first flush (maxRows 2); the third waits for the next.
    await Promise.all([inbox.append([report(0)]), inbox.append([report(1)]), inbox.append([report(2)])]);
    assert.deepEqual(
      flushes.map((flush) => flush.rows),
      [2, 1],
    );
    assert.ok(flushes.every((flush) => flush.seconds > 0 && flush.seconds < 60));
  } finally {
    await inbox.close();
    await database.db.deliveryReport.deleteMany();
  }
});

test('a write PostgreSQL refuses fails the callers it carried; their reports are not kept', async () => {
  const inbox = new DeliveryReportInbox(database.url, { maxRows: 100, lingerMs: 1, notifySpacingMs: 0 }, silent);
  try {
    // A NUL byte is refused by jsonb: the flush fails as a whole, as when the database is gone.
    const refused = { ...report(0), report: { ...report(0).report, providerStatus: 'bad\u0000' } };
    const results = await Promise.allSettled([inbox.append([refused]), inbox.append([report(1)])]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['rejected', 'rejected'],
    );
    assert.equal(await database.db.deliveryReport.count(), 0);
    await inbox.append([report(2)]);
    assert.equal(await database.db.deliveryReport.count(), 1, 'the next flush is written');
  } finally {
    await inbox.close();
    await database.db.deliveryReport.deleteMany();
  }
});

test('an idle inbox connection cut by PostgreSQL (a restart) is replaced: the next flush is written, the process lives on', async () => {
  const inbox = new DeliveryReportInbox(database.url, { maxRows: 100, lingerMs: 1, notifySpacingMs: 0 }, silent);
  try {
    await inbox.append([report(0)]);
    const databaseName = new URL(database.url).pathname.slice(1);
    const inboxConnections = await database.db.$queryRaw<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity WHERE datname = ${databaseName} AND application_name = ${INBOX_APPLICATION_NAME}`;
    assert.equal(inboxConnections.length, 1, 'the inbox holds one connection of its own');
    await database.db.$queryRaw`SELECT pg_terminate_backend(${inboxConnections[0]?.pid})`;
    // The idle connection's loss is reported to the pool (its error event) without ending the process.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await inbox.append([report(1)]);
    assert.equal(await database.db.deliveryReport.count(), 2);
  } finally {
    await inbox.close();
    await database.db.deliveryReport.deleteMany();
  }
});

test('flushes within the notification spacing share one notification, sent after the last of them committed; a flush after a quiet spell notifies at once', async () => {
  const listener = new Client({ connectionString: database.url });
  await listener.connect();
  // Notifications and finished appends, in the order this process saw them.
  const seen: string[] = [];
  listener.on('notification', (notification) => seen.push(`notified ${JSON.stringify(notification.payload ?? '')}`));
  await listener.query(`LISTEN ${INBOX_CHANNEL}`);
  // Long enough that the three appends below finish within it even on a loaded machine.
  const spacingMs = 1_500;
  const inbox = new DeliveryReportInbox(database.url, { maxRows: 100, lingerMs: 1, notifySpacingMs: spacingMs }, silent);
  let closed: Promise<void> | undefined;
  const closing = () => (closed ??= inbox.close());
  const notifications = () => seen.filter((entry) => entry.startsWith('notified'));
  const until = async (count: number) => {
    while (notifications().length < count) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  try {
    for (const index of [0, 1, 2]) {
      await inbox.append([report(index)]);
      seen.push(`appended ${index}`);
    }
    await until(2);
    // The first flush notified in its own statement (the row count), the next two owed one.
    assert.deepEqual(notifications(), ['notified "1"', 'notified ""']);
    assert.ok(seen.lastIndexOf('notified ""') > seen.indexOf('appended 2'), `the shared notification comes after the last flush: ${seen.join(', ')}`);
    assert.equal(await database.db.deliveryReport.count(), 3);

    await new Promise((resolve) => setTimeout(resolve, spacingMs));
    await inbox.append([report(3)]);
    await until(3);
    assert.equal(notifications()[2], 'notified "1"', 'after a quiet spell, the flush itself notifies');

    await inbox.append([report(4)]);
    await closing();
    await until(4);
    assert.equal(notifications()[3], 'notified ""', 'close sends what is owed');
  } finally {
    await closing();
    await listener.end();
    await database.db.deliveryReport.deleteMany();
  }
});
