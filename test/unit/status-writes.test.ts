import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { writeStatusChanges } from '../../src/activities/status';
import { claimSubmitAttempt } from '../../src/activities/submit-attempts';
import { loadConfig, messagePolicyFrom } from '../../src/config';
import { DEMO_ACCOUNT_ID, seedDemoAccount } from '../../src/dev/seed';
import { DUPLICATE_MESSAGE_FAILURE, type MessageRequest, type StatusChange } from '../../src/domain/message';
import type { MessageStatus } from '../../src/domain/status';
import { createTestDatabase, type TestDatabase } from '../support/database';

let database: TestDatabase;

before(async () => {
  database = await createTestDatabase('status_writes');
  await seedDemoAccount(database.db);
});

after(async () => {
  await database?.drop();
});

function requestFor(messageId: string): MessageRequest {
  return {
    messageId,
    accountId: DEMO_ACCOUNT_ID,
    to: '+4520123456',
    from: 'Acme',
    body: 'hello',
    encoding: 'gsm7',
    segments: 1,
    acceptedAt: new Date().toISOString(),
    policy: messagePolicyFrom(loadConfig({})),
  };
}

function change(messageId: string, sequence: number, status: MessageStatus, extra: Partial<StatusChange> = {}): StatusChange {
  return { messageId, sequence, status, occurredAt: new Date().toISOString(), ...extra };
}

async function row(messageId: string) {
  return database.db.message.findUniqueOrThrow({ where: { id: messageId }, include: { events: { orderBy: { sequence: 'asc' } } } });
}

test('a retried status write that commits after a later one leaves the message at the later status', async () => {
  const id = randomUUID();
  const first = [change(id, 1, 'accepted', { message: requestFor(id), runId: 'run-1' }), change(id, 2, 'routed', { providerId: 'p' })];
  await writeStatusChanges(database.db, first);
  const submitted = [change(id, 3, 'submitted', { providerId: 'p', providerMessageId: 'pm-1' })];
  await writeStatusChanges(database.db, submitted);
  await writeStatusChanges(database.db, [change(id, 4, 'delivered', { providerId: 'p', providerMessageId: 'pm-1' })]);
  // The first try of the `submitted` write, timed out by the worker but committing only now.
  await writeStatusChanges(database.db, submitted);

  const message = await row(id);
  assert.equal(message.status, 'delivered');
  assert.equal(message.sequence, 4);
  assert.ok(message.submittedAt && message.completedAt);
  assert.deepEqual(message.events.map((event) => event.status), ['accepted', 'routed', 'submitted', 'delivered']);
});

test('the first write retried by the same run is not a duplicate and changes nothing', async () => {
  const id = randomUUID();
  const first = [change(id, 1, 'accepted', { message: requestFor(id), runId: 'run-1' }), change(id, 2, 'routed', { providerId: 'p' })];
  await writeStatusChanges(database.db, first);
  await writeStatusChanges(database.db, first);
  const message = await row(id);
  assert.equal(message.runId, 'run-1');
  assert.equal(message.status, 'routed');
  assert.equal(message.events.length, 2);
});

test('the first write again with a later change (a submit recorded the message, then failed) moves the message on', async () => {
  const id = randomUUID();
  const first = [change(id, 1, 'accepted', { message: requestFor(id), runId: 'run-1' }), change(id, 2, 'routed', { providerId: 'p' })];
  await writeStatusChanges(database.db, first);
  await writeStatusChanges(database.db, [...first, change(id, 3, 'rejected', { providerId: 'p', errorCode: 'opted_out', reason: 'opted out' })]);
  const message = await row(id);
  assert.deepEqual([message.status, message.sequence, message.errorCode, message.errorReason, message.completedAt !== null], ['rejected', 3, 'opted_out', 'opted out', true]);
  assert.deepEqual(message.events.map((event) => event.status), ['accepted', 'routed', 'rejected']);
  // An older first write committing late leaves it there.
  await writeStatusChanges(database.db, first);
  assert.equal((await row(id)).status, 'rejected');
});

test('a first write from another run of the same id is refused as a duplicate and writes nothing', async () => {
  const id = randomUUID();
  await writeStatusChanges(database.db, [change(id, 1, 'accepted', { message: requestFor(id), runId: 'run-1' }), change(id, 2, 'routed', { providerId: 'p' })]);
  await writeStatusChanges(database.db, [change(id, 3, 'delivered', { providerId: 'p' })]);

  await assert.rejects(
    writeStatusChanges(database.db, [
      change(id, 1, 'accepted', { message: { ...requestFor(id), body: 'again' }, runId: 'run-2' }),
      change(id, 2, 'routed', { providerId: 'q' }),
      change(id, 3, 'scheduled'),
    ]),
    (error: unknown) => error instanceof ApplicationFailure && error.type === DUPLICATE_MESSAGE_FAILURE && error.details?.[0] === 'delivered',
  );
  const message = await row(id);
  assert.equal(message.body, 'hello');
  assert.equal(message.status, 'delivered');
  assert.deepEqual(message.events.map((event) => `${event.status}@${event.providerId ?? ''}`), ['accepted@', 'routed@p', 'delivered@p']);
});

test('a submit attempt is claimed once: by the sender before it sends, or by the workflow fencing it off', async () => {
  const id = randomUUID();
  await writeStatusChanges(database.db, [change(id, 1, 'accepted', { message: requestFor(id), runId: 'run-1' })]);
  assert.equal(await claimSubmitAttempt(database.db, { messageId: id, attempt: 1 }), true, 'the activity marks attempt 1');
  assert.equal(await claimSubmitAttempt(database.db, { messageId: id, attempt: 1 }), false, 'the workflow finds it marked: maybe sent');
  assert.equal(await claimSubmitAttempt(database.db, { messageId: id, attempt: 2 }), true, 'the workflow fences attempt 2: never sent');
  assert.equal(await claimSubmitAttempt(database.db, { messageId: id, attempt: 2 }), false, 'a late activity for attempt 2 may not send');
});
