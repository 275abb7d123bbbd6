// The message path's statements: CPU per statement in this process, sent the way the router sends
// them (straight to node-postgres, src/db/client.ts) against the same statement through Prisma's
// client, which is how they were sent before; and the forwarder's claim, a transaction of two. Eight at a time, as a busy worker runs them; a warm-up
// round first, so connection set-up and first-use costs stay out of the figures.
//
//   npm run bench -- db-statements

import { randomUUID } from 'node:crypto';
import { executeStatement, queryRows, queryRowsInTransaction, type Database } from '../src/db/client';
import { DEMO_ACCOUNT_ID, seedDemoAccount } from '../src/dev/seed';
import { Prisma } from '../src/generated/prisma/client';
import { createTestDatabase } from '../test/support/database';
import { ratio, round } from './load';
import type { BenchResult } from './types';

const STATEMENTS = 4_000;
const CONCURRENCY = 8;
const MESSAGES = 50;

/** CPU µs of this process per call of `call`, CONCURRENCY calls at a time. */
async function cpuPerCall(call: (index: number) => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < STATEMENTS; index = next++) await call(index);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const spent = process.cpuUsage(before);
  return (spent.user + spent.system) / STATEMENTS;
}

export async function benchDbStatements(): Promise<BenchResult> {
  const database = await createTestDatabase('bench_db_statements');
  const db: Database = database.db;
  try {
    await seedDemoAccount(db);
    const ids = Array.from({ length: MESSAGES }, () => randomUUID());
    for (const id of ids) {
      await db.message.create({ data: { id, accountId: DEMO_ACCOUNT_ID, to: '+4520123456', from: 'Acme', body: 'x', encoding: 'gsm7', segments: 1, status: 'routed', sequence: 1 } });
    }
    // The submit claim (src/activities/submit-attempts.ts), each call a newer attempt so that it
    // updates its row as a real claim does, and the suppression check of every submit.
    let attempt = 0;
    const claim = (index: number) => {
      attempt += 1;
      return Prisma.sql`UPDATE "Message" SET "submitAttempt" = ${attempt} WHERE "id" = ${ids[index % MESSAGES] ?? ''} AND "submitAttempt" < ${attempt}`;
    };
    // The forwarder's claim (src/reconciler/delivery-reports.ts) in its shape: the advisory lock,
    // then an UPDATE ... RETURNING, on an inbox with nothing to claim, as most passes find it.
    const forwarderClaim = [
      Prisma.sql`SELECT pg_advisory_xact_lock(hashtext(${'bench.forwarder-claim'}))`,
      Prisma.sql`UPDATE "DeliveryReport" SET "leasedBy" = ${'bench'} WHERE "id" IN (
        SELECT "id" FROM "DeliveryReport" WHERE "processedAt" IS NULL AND "parkedAt" IS NULL ORDER BY "id" LIMIT 500 FOR UPDATE SKIP LOCKED)
        RETURNING "id", "payload"`,
    ] as const;
    const variants = {
      forwarderClaimPrisma: () => db.$transaction([db.$executeRaw(forwarderClaim[0]), db.$queryRaw(forwarderClaim[1])]),
      forwarderClaimDriver: () => queryRowsInTransaction(db, forwarderClaim),
      claimPrisma: (index: number) => db.$executeRaw(claim(index)),
      claimDriver: (index: number) => executeStatement(db, claim(index)),
      suppressionPrisma: (index: number) =>
        db.suppression.findUnique({ where: { accountId_number: { accountId: DEMO_ACCOUNT_ID, number: `+4520${index}` } }, select: { accountId: true } }),
      suppressionDriver: (index: number) =>
        queryRows(db, Prisma.sql`SELECT 1 FROM "Suppression" WHERE "accountId" = ${DEMO_ACCOUNT_ID} AND "number" = ${`+4520${index}`}`),
    };
    for (const call of Object.values(variants)) await cpuPerCall(call);
    const claimPrisma = await cpuPerCall(variants.claimPrisma);
    const claimDriver = await cpuPerCall(variants.claimDriver);
    const suppressionPrisma = await cpuPerCall(variants.suppressionPrisma);
    const suppressionDriver = await cpuPerCall(variants.suppressionDriver);
    const forwarderClaimPrisma = await cpuPerCall(variants.forwarderClaimPrisma);
    const forwarderClaimDriver = await cpuPerCall(variants.forwarderClaimDriver);
    return {
      name: `db statements: ${STATEMENTS} each, ${CONCURRENCY} at a time, CPU of this process`,
      figures: {
        'submit claim (UPDATE), through Prisma $executeRaw (µs CPU)': round(claimPrisma, 0),
        'submit claim (UPDATE), straight to node-postgres (µs CPU)': round(claimDriver, 0),
        'submit claim, node-postgres / Prisma': ratio(claimDriver / claimPrisma),
        'suppression check, Prisma findUnique (µs CPU)': round(suppressionPrisma, 0),
        'suppression check, straight to node-postgres (µs CPU)': round(suppressionDriver, 0),
        'suppression check, node-postgres / Prisma': ratio(suppressionDriver / suppressionPrisma),
        "forwarder's claim (lock, UPDATE ... RETURNING), Prisma $transaction (µs CPU)": round(forwarderClaimPrisma, 0),
        "forwarder's claim, one node-postgres transaction (µs CPU)": round(forwarderClaimDriver, 0),
        "forwarder's claim, node-postgres / Prisma": ratio(forwarderClaimDriver / forwarderClaimPrisma),
      },
    };
  } finally {
    await database.drop();
  }
}
