import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import type { Pool } from 'pg';
import { databaseOn, type Database } from '../../src/db/client';
import type { InboundStarter } from '../../src/inbound/starter';
import { DeliveryReportReconciler } from '../../src/reconciler/delivery-reports';
import { UNIT_FORWARDER_OPTIONS } from '../support/stored-reports';

const PASS_SPACING_MS = 25;

/** An inbox that is always empty, behind connections whose claims finish when the test says. */
function emptyInbox(): { db: Database; claims: () => number; finishClaims: () => void } {
  let claims = 0;
  let pending: (() => void)[] = [];
  const connection = {
    query: async (text: string) => {
      if (text.includes('UPDATE "DeliveryReport"')) {
        claims += 1;
        await new Promise<void>((resolve) => pending.push(resolve));
      }
      return { rows: [], rowCount: 0 };
    },
    on: () => connection,
    removeListener: () => connection,
    release: () => undefined,
  };
  const pool = { connect: async () => connection, on: () => pool } as unknown as Pool;
  const finishClaims = () => {
    const finishing = pending;
    pending = [];
    finishing.forEach((resolve) => resolve());
  };
  return { db: databaseOn(pool), claims: () => claims, finishClaims };
}

function forwarder(db: Database, inbound?: InboundStarter): DeliveryReportReconciler {
  return new DeliveryReportReconciler(db, {} as Client, pino({ level: 'silent' }), {
    ...UNIT_FORWARDER_OPTIONS,
    ...(inbound ? { inbound } : {}),
    passSpacingMs: PASS_SPACING_MS,
  });
}

/** Lets the promise chains the last step started run to where they wait on a (mocked) timer. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 10; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] }));
afterEach(() => mock.timers.reset());

test('wake-ups during a pass bring one more pass, passSpacingMs after the last one started; a lone wake-up passes at once', async () => {
  const inbox = emptyInbox();
  const reconciler = forwarder(inbox.db);
  reconciler.wake();
  await settle();
  assert.equal(inbox.claims(), 1);

  // Flushes notify while the pass runs: they are carried by one later pass.
  for (let flush = 0; flush < 5; flush += 1) reconciler.wake();
  mock.timers.tick(10);
  inbox.finishClaims();
  await settle();
  assert.equal(inbox.claims(), 1, 'the next pass waits out the spacing');
  mock.timers.tick(PASS_SPACING_MS - 10 - 1);
  await settle();
  assert.equal(inbox.claims(), 1);
  mock.timers.tick(1);
  await settle();
  assert.equal(inbox.claims(), 2, 'one pass for all five wake-ups');

  // Nothing woke it during that pass: the drain ends, and the next wake-up passes without waiting.
  inbox.finishClaims();
  await settle();
  mock.timers.tick(PASS_SPACING_MS * 4);
  await settle();
  assert.equal(inbox.claims(), 2);
  reconciler.wake();
  await settle();
  assert.equal(inbox.claims(), 3);
  inbox.finishClaims();
  await reconciler.stop();
});

test('a wake-up for delivery reports claims no inbound messages, one for an inbound message no reports, and the poll looks for both', async () => {
  const inbox = emptyInbox();
  let inboundClaims = 0;
  const starter = {
    batch: 200,
    runOnce: async () => {
      inboundClaims += 1;
      return 0;
    },
  } as unknown as InboundStarter;
  const reconciler = forwarder(inbox.db, starter);
  const claimsAfter = async (wake: () => void) => {
    wake();
    await settle();
    inbox.finishClaims();
    await settle();
    // Past the pass spacing and short of the poll: nothing else passes meanwhile.
    mock.timers.tick(PASS_SPACING_MS * 2);
    await settle();
    return { reports: inbox.claims(), inbound: inboundClaims };
  };
  assert.deepEqual(await claimsAfter(() => reconciler.wake('reports')), { reports: 1, inbound: 0 });
  assert.deepEqual(await claimsAfter(() => reconciler.wake('inbound')), { reports: 1, inbound: 1 });
  assert.deepEqual(await claimsAfter(() => reconciler.wake('all')), { reports: 2, inbound: 2 });
  reconciler.start();
  assert.deepEqual(await claimsAfter(() => mock.timers.tick(1000)), { reports: 3, inbound: 3 }, 'the poll');
  await reconciler.stop();
});
