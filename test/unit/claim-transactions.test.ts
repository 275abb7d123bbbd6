import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { queryRows, queryRowsInTransaction } from '../../src/db/client';
import { Prisma } from '../../src/generated/prisma/client';
import { DeliveryReportReconciler } from '../../src/reconciler/delivery-reports';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { UNIT_FORWARDER_OPTIONS } from '../support/stored-reports';

let database: TestDatabase;

before(async () => {
  database = await createTestDatabase('claim_transactions');
});

after(async () => {
  await database.drop();
});

test('a statement that fails rolls back the ones before it in its transaction, and the next transaction runs', async () => {
  const id = 'rolled-back';
  await assert.rejects(
    queryRowsInTransaction(database.db, [
      Prisma.sql`INSERT INTO "Account" ("id", "name") VALUES (${id}, 'Rolled back')`,
      Prisma.sql`SELECT 1 / 0`,
    ]),
    /division by zero/,
  );
  assert.equal((await queryRows<{ id: string }>(database.db, Prisma.sql`SELECT "id" FROM "Account" WHERE "id" = ${id}`)).length, 0);
  const [row] = await queryRowsInTransaction<{ answer: number }>(database.db, [Prisma.sql`SELECT pg_advisory_xact_lock(1)`, Prisma.sql`SELECT 42 AS "answer"`]);
  assert.equal(row?.answer, 42);
});

test('a connection whose server goes away mid-transaction fails that call only: the process lives on and the next transaction runs', async () => {
  // The backend ends itself, as it does when PostgreSQL stops: the checked-out connection emits
  // 'error', which nobody but the transaction can hear.
  await assert.rejects(queryRowsInTransaction(database.db, [Prisma.sql`SELECT pg_advisory_xact_lock(2)`, Prisma.sql`SELECT pg_terminate_backend(pg_backend_pid())`]));
  await new Promise((resolve) => setTimeout(resolve, 100));
  const [row] = await queryRowsInTransaction<{ answer: number }>(database.db, [Prisma.sql`SELECT 42 AS "answer"`]);
  assert.equal(row?.answer, 42);
});

test('a claimed report keeps the time it was received in a process east of UTC: a fresh report naming no message waits for it instead of being parked', async () => {
  const zone = process.env.TZ;
  // Thirteen hours ahead: read as local time, a report received now would look 13 hours old.
  process.env.TZ = 'Pacific/Auckland';
  try {
    const report = { providerMessageId: 'no-such-part', status: 'delivered', providerStatus: 'DELIVRD', occurredAt: new Date().toISOString() };
    const { id } = await database.db.deliveryReport.create({
      data: { providerId: 'acme', providerMessageId: report.providerMessageId, status: report.status, payload: report, orderKey: 'acme:no-such-part' },
    });
    // Nothing to signal: the report names no message.
    const temporal = { connection: { withAbortSignal: (_signal: AbortSignal, call: () => unknown) => call() } } as unknown as Client;
    const reconciler = new DeliveryReportReconciler(database.db, temporal, pino({ level: 'silent' }), { ...UNIT_FORWARDER_OPTIONS, giveUpAfterMs: 3_600_000 });
    assert.equal(await reconciler.runOnce(), 1);
    const stored = await database.db.deliveryReport.findUniqueOrThrow({ where: { id } });
    assert.equal(stored.parkedAt, null, `parked: ${stored.lastError}`);
    assert.equal(stored.lastError, 'no message matches it yet');
  } finally {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  }
});
