import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createDispatchActivities, ProviderPools, SubmitPacer } from '../../src/activities';
import { writeStatusChanges } from '../../src/activities/status';
import { claimSubmitAttempt } from '../../src/activities/submit-attempts';
import { loadConfig, messagePolicyFrom } from '../../src/config';
import { DEMO_ACCOUNT_ID, seedDemoAccount } from '../../src/dev/seed';
import { SUBMIT_FAILURE, type SubmitInput, type SubmitResult } from '../../src/domain/dispatch';
import { DUPLICATE_MESSAGE_FAILURE, type StatusChange } from '../../src/domain/message';
import { OPTED_OUT_ERROR_CODE } from '../../src/domain/opt-out';
import { SuppressionList } from '../../src/inbound/suppression';
import { RoutingCatalog } from '../../src/routing/catalog';
import { createTestDatabase, type TestDatabase } from '../support/database';

/** The provider's side: what it does with each submit, and how many reached it. */
let answer: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => response.end('{"id":"pm-1"}');
let received = 0;
let server: Server;
let database: TestDatabase;
let pools: ProviderPools;
let activities: ReturnType<typeof createDispatchActivities>;

before(async () => {
  server = createServer((request, response) => {
    received += 1;
    request.resume();
    request.on('end', () => answer(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  database = await createTestDatabase('dispatch_activity');
  await seedDemoAccount(database.db);
  process.env.SMSROUTER_CREDENTIALS_DISPATCH_TEST = JSON.stringify({ apiKey: 'k' });
  await database.db.provider.create({
    data: { id: 'dispatch-test', adapter: 'generic', baseUrl: `http://127.0.0.1:${port}`, credentialsRef: 'SMSROUTER_CREDENTIALS_DISPATCH_TEST', tps: 10, window: 2 },
  });
  pools = new ProviderPools(2_000);
  activities = createDispatchActivities(
    { db: database.db, catalog: new RoutingCatalog(database.db), suppressions: new SuppressionList(database.db), publicBaseUrl: 'http://127.0.0.1:1', submitTimeoutMs: 2_000 },
    pools,
    // The provider's 10 TPS, as its dispatch worker would pace it.
    new SubmitPacer(10),
  );
});

after(async () => {
  await pools?.close();
  server?.closeAllConnections();
  server?.close();
  await database?.drop();
});

/** The workflow's first change of a message: `accepted`, carrying the message itself. */
function acceptedChange(messageId: string, runId = 'run-1', to = '+4520123456'): StatusChange {
  return {
    messageId,
    sequence: 1,
    status: 'accepted',
    occurredAt: new Date().toISOString(),
    runId,
    message: { messageId, accountId: DEMO_ACCOUNT_ID, to, from: 'Acme', body: 'x', encoding: 'gsm7', segments: 1, acceptedAt: new Date().toISOString(), policy: messagePolicyFrom(loadConfig({})) },
  };
}

/** A message with its row written (the workflow's first write), and a submit of its attempt 1. */
async function submitFor(): Promise<SubmitInput> {
  const messageId = randomUUID();
  await writeStatusChanges(database.db, [acceptedChange(messageId)]);
  return { providerId: 'dispatch-test', attempt: 1, sms: { messageId, to: '+4520123456', from: 'Acme', body: 'x', encoding: 'gsm7' } };
}

/** A message whose route came with it: no row yet, its accepted and routed changes left to the submit. */
function unrecordedSubmitFor(to = '+4520123456', runId = 'run-1'): SubmitInput & { readonly unrecorded: readonly StatusChange[] } {
  const messageId = randomUUID();
  const routed: StatusChange = { messageId, sequence: 2, status: 'routed', providerId: 'dispatch-test', occurredAt: new Date().toISOString() };
  return {
    providerId: 'dispatch-test',
    attempt: 1,
    sms: { messageId, to, from: 'Acme', body: 'x', encoding: 'gsm7' },
    submitted: { sequence: 3 },
    unrecorded: [acceptedChange(messageId, runId, to), routed],
  };
}

async function submitFailure(input: SubmitInput): Promise<ApplicationFailure> {
  const environment = new MockActivityEnvironment({ startToCloseTimeoutMs: 5_000 });
  try {
    await environment.run(activities.submitToProvider, input);
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, String(error));
    return error;
  }
  assert.fail('the submit succeeded');
}

test('a 2xx whose body breaks off is ambiguous, never a failure to fail over from', async () => {
  answer = (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
    response.write('{"id":');
    response.destroy();
  };
  const failure = await submitFailure(await submitFor());
  assert.equal(failure.type, SUBMIT_FAILURE.ambiguous);
});

test('an attempt the workflow already gave up as unsent is not sent', async () => {
  answer = (_request, response) => response.end('{"id":"pm-1"}');
  const input = await submitFor();
  assert.equal(await claimSubmitAttempt(database.db, { messageId: input.sms.messageId, attempt: 1 }), true);
  const before = received;
  const failure = await submitFailure(input);
  assert.equal(failure.type, SUBMIT_FAILURE.permanent);
  assert.deepEqual(failure.details, ['attempt_fenced']);
  assert.equal(received, before, 'no request reached the provider');
});

test('an accepted submit marks its attempt before the request leaves', async () => {
  answer = (_request, response) => response.end('{"id":"pm-2"}');
  const input = await submitFor();
  const result = await new MockActivityEnvironment({ startToCloseTimeoutMs: 5_000 }).run(activities.submitToProvider, input);
  assert.deepEqual(result, { providerMessageIds: ['pm-2'] });
  assert.equal(await claimSubmitAttempt(database.db, { messageId: input.sms.messageId, attempt: 1 }), false, 'the attempt is marked: maybe sent');
});

test('an accepted submit records the submitted change at the position the workflow gave', async () => {
  answer = (_request, response) => response.end('{"id":"pm-3"}');
  const input = { ...(await submitFor()), submitted: { sequence: 2 } };
  const result = (await new MockActivityEnvironment({ startToCloseTimeoutMs: 5_000 }).run(activities.submitToProvider, input)) as SubmitResult;
  assert.equal(result.submitted?.sequence, 2);
  const message = await database.db.message.findUniqueOrThrow({ where: { id: input.sms.messageId } });
  assert.deepEqual([message.status, message.sequence, message.providerMessageId, message.submittedAt !== null], ['submitted', 2, 'pm-3', true]);
  const events = await database.db.messageEvent.findMany({ where: { messageId: input.sms.messageId }, orderBy: { sequence: 'asc' } });
  assert.deepEqual(events.map((event) => event.status), ['accepted', 'submitted']);
});

test('a submit without a position leaves the submitted change to the workflow', async () => {
  answer = (_request, response) => response.end('{"id":"pm-4"}');
  const input = await submitFor();
  const result = (await new MockActivityEnvironment({ startToCloseTimeoutMs: 5_000 }).run(activities.submitToProvider, input)) as SubmitResult;
  assert.equal(result.submitted, undefined);
  const message = await database.db.message.findUniqueOrThrow({ where: { id: input.sms.messageId } });
  assert.equal(message.status, 'accepted');
});

test('a submitted write that hangs is left to the workflow before the activity reaches its deadline', async () => {
  const input = { ...(await submitFor()), submitted: { sequence: 2 } };
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding: Promise<unknown> = Promise.resolve();
  // The provider accepts only once another transaction holds the Message row, so the write waits on its lock.
  answer = (_request, response) => {
    let locked: () => void = () => undefined;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    holding = database.db.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT 1 FROM "Message" WHERE "id" = ${input.sms.messageId} FOR UPDATE`;
        locked();
        await released;
      },
      { timeout: 30_000 },
    );
    void isLocked.then(() => response.end('{"id":"pm-5"}'));
  };
  // Released well after the activity's deadline: a write still waiting for it would come back with `submitted`.
  const releaseLater = setTimeout(release, 6_000);
  try {
    const result = (await new MockActivityEnvironment({ startToCloseTimeoutMs: 3_000 }).run(activities.submitToProvider, input)) as SubmitResult;
    assert.deepEqual(result, { providerMessageIds: ['pm-5'] });
  } finally {
    clearTimeout(releaseLater);
    release();
    await holding;
  }
});

test('a submit whose route came with the message records the message before its request leaves', async () => {
  answer = (_request, response) => response.end('{"id":"pm-7"}');
  const input = unrecordedSubmitFor();
  const result = (await new MockActivityEnvironment({ startToCloseTimeoutMs: 5_000 }).run(activities.submitToProvider, input)) as SubmitResult;
  assert.equal(result.submitted?.sequence, 3);
  const events = await database.db.messageEvent.findMany({ where: { messageId: input.sms.messageId }, orderBy: { sequence: 'asc' } });
  assert.deepEqual(events.map((event) => [event.sequence, event.status]), [[1, 'accepted'], [2, 'routed'], [3, 'submitted']]);
  const message = await database.db.message.findUniqueOrThrow({ where: { id: input.sms.messageId } });
  assert.deepEqual([message.status, message.runId, message.submitAttempt], ['submitted', 'run-1', 1]);
});

test('a recipient the account suppressed is refused unsent when no routing step checked it', async () => {
  answer = (_request, response) => response.end('{"id":"pm-8"}');
  const input = unrecordedSubmitFor('+4520999111');
  await new SuppressionList(database.db).add(DEMO_ACCOUNT_ID, '+4520999111', 'opt_out', 'test');
  const before = received;
  const failure = await submitFailure(input);
  assert.equal(failure.type, SUBMIT_FAILURE.permanent);
  assert.deepEqual(failure.details, [OPTED_OUT_ERROR_CODE]);
  assert.equal(failure.nonRetryable, true);
  assert.equal(received, before, 'no request reached the provider');
  const message = await database.db.message.findUniqueOrThrow({ where: { id: input.sms.messageId } });
  assert.equal(message.status, 'routed', 'recorded as routed; the workflow records the refusal');
});

test('a message whose row belongs to another run is a duplicate, and nothing is sent', async () => {
  answer = (_request, response) => response.end('{"id":"pm-9"}');
  const input = unrecordedSubmitFor();
  await writeStatusChanges(database.db, [acceptedChange(input.sms.messageId, 'an-earlier-run')]);
  const before = received;
  const failure = await submitFailure(input);
  assert.equal(failure.type, DUPLICATE_MESSAGE_FAILURE);
  assert.equal(received, before, 'no request reached the provider');
});
