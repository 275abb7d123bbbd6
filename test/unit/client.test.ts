import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { InvalidMessageError, MessageConflictError, messageIdFor, SmsRouterClient, type BatchInput, type MessageInput } from '../../src/client';
import { conflictingField, DEFAULT_MESSAGE_POLICY, fingerprintOf, prepareBatch, prepareMessage, type RequestContext } from '../../src/client/request';

const context: RequestContext = {
  accountId: 'acme',
  limits: { maxSegments: 2, maxBatchRecipients: 3 },
  policy: { ...DEFAULT_MESSAGE_POLICY, callbackRetrySeconds: 60 },
  now: new Date('2026-12-01T10:00:00Z'),
};

const valid: MessageInput = { to: '+45 20 12 34 56', from: 'Acme', body: 'Your code is 1234' };

/** A Temporal client that records starts and answers describe() from `existing`, as the server would. */
function recordingTemporal(existing = new Map<string, Record<string, unknown>>()) {
  const started: { workflowId: string; memo?: Record<string, unknown>; args: unknown[] }[] = [];
  const fake = {
    workflow: {
      async start(_workflow: unknown, options: { workflowId: string; memo?: Record<string, unknown>; args: unknown[] }) {
        if (existing.has(options.workflowId)) throw new WorkflowExecutionAlreadyStartedError('already started', options.workflowId, 'messageWorkflow');
        started.push(options);
        if (options.memo) existing.set(options.workflowId, options.memo);
        return {};
      },
      getHandle(workflowId: string) {
        return { describe: async () => ({ memo: existing.get(workflowId) }) };
      },
    },
  };
  return { client: fake as unknown as Client, started };
}

describe('request builder', () => {
  test('a message is normalised, counted and named from its clientRef', () => {
    const { request } = prepareMessage({ ...valid, clientRef: 'order-42', validitySeconds: 60 }, context);
    assert.equal(request.to, '+4520123456');
    assert.equal(request.country, 'DK');
    assert.equal(request.encoding, 'gsm7');
    assert.equal(request.segments, 1);
    assert.equal(request.messageId, messageIdFor('acme', 'order-42'));
    assert.equal(request.acceptedAt, '2026-12-01T10:00:00.000Z');
    assert.equal(request.validUntil, '2026-12-01T10:01:00.000Z');
    assert.deepEqual(request.policy, context.policy);
  });

  test('the id of a clientRef depends on the account and the reference only', () => {
    assert.equal(messageIdFor('acme', 'r1'), messageIdFor('acme', 'r1'));
    assert.notEqual(messageIdFor('acme', 'r1'), messageIdFor('other', 'r1'));
    assert.notEqual(messageIdFor('acme', undefined), messageIdFor('acme', undefined));
    assert.match(messageIdFor('acme', 'r1'), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  test('validity is counted from sendAt when the message is scheduled', () => {
    const { request } = prepareMessage({ ...valid, sendAt: '2026-12-24T18:00:00+01:00', validitySeconds: 3600 }, context);
    assert.equal(request.sendAt, '2026-12-24T17:00:00.000Z');
    assert.equal(request.validUntil, '2026-12-24T18:00:00.000Z');
  });

  const invalid: { label: string; input: Record<string, unknown>; code: string; field: string }[] = [
    { label: 'an invalid number', input: { ...valid, to: '+1234' }, code: 'invalid_number', field: 'to' },
    { label: 'a national number', input: { ...valid, to: '20123456' }, code: 'invalid_number', field: 'to' },
    { label: 'a missing to', input: { from: 'Acme', body: 'x' }, code: 'invalid_request', field: 'to' },
    { label: 'an empty body', input: { ...valid, body: '' }, code: 'invalid_request', field: 'body' },
    { label: 'a body over the segment limit', input: { ...valid, body: 'x'.repeat(307) }, code: 'body_too_long', field: 'body' },
    { label: 'a sender over 16 characters', input: { ...valid, from: 'A'.repeat(17) }, code: 'invalid_request', field: 'from' },
    { label: 'a clientRef over 64 characters', input: { ...valid, clientRef: 'r'.repeat(65) }, code: 'invalid_request', field: 'clientRef' },
    { label: 'a callback that is not http(s)', input: { ...valid, callbackUrl: 'ftp://example.com/x' }, code: 'invalid_request', field: 'callbackUrl' },
    { label: 'a sendAt without a zone', input: { ...valid, sendAt: '2026-12-24T18:00:00' }, code: 'invalid_request', field: 'sendAt' },
    { label: 'a fractional validity', input: { ...valid, validitySeconds: 1.5 }, code: 'invalid_request', field: 'validitySeconds' },
    { label: 'a validity over a week', input: { ...valid, validitySeconds: 604_801 }, code: 'invalid_request', field: 'validitySeconds' },
    { label: 'a misspelt field', input: { ...valid, clientref: 'x' }, code: 'invalid_request', field: 'clientref' },
  ];
  for (const { label, input, code, field } of invalid) {
    test(`${label} is refused as ${code} naming ${field}`, () => {
      assert.throws(
        () => prepareMessage(input as unknown as MessageInput, context),
        (error: unknown) => error instanceof InvalidMessageError && error.code === code && error.field === field,
      );
    });
  }

  test('a batch names each message from the request reference and the number, unless the recipient has its own', () => {
    const batch = prepareBatch({ from: 'Acme', body: 'hi', clientRef: 'camp-1', recipients: ['+4520123456', { to: '+4520123457', clientRef: 'own' }, 'nope'] }, context);
    assert.deepEqual(
      batch.messages.map((message) => message.request.clientRef),
      ['camp-1:+4520123456', 'own'],
    );
    assert.deepEqual(
      batch.rejected.map((rejected) => [rejected.index, rejected.error.code, rejected.error.field]),
      [[2, 'invalid_number', 'recipients[2]']],
    );
  });

  test('a batch over the recipient limit, or with no valid number, is refused whole', () => {
    const base: Omit<BatchInput, 'recipients'> = { from: 'Acme', body: 'hi' };
    assert.throws(() => prepareBatch({ ...base, recipients: ['+4520123456', '+4520123457', '+4520123458', '+4520123459'] }, context), { code: 'too_many_recipients', field: 'recipients' });
    assert.throws(
      () => prepareBatch({ ...base, recipients: ['1', '2'] }, context),
      (error: unknown) => error instanceof InvalidMessageError && error.field === 'recipients[0]' && error.recipients.length === 2,
    );
    assert.throws(() => prepareBatch({ ...base, recipients: [{ to: '+4520123456', ref: 'x' } as never] }, context), { field: 'recipients[0].ref' });
  });

  test('fingerprints name the first field that differs, and skip fields a store does not know', () => {
    const sent = fingerprintOf({ to: '+4520123456', from: 'Acme', body: 'a', callbackUrl: undefined, sendAt: undefined, validitySeconds: 60 });
    assert.equal(conflictingField(sent, fingerprintOf({ to: '+4520123456', from: 'Acme', body: 'a', callbackUrl: null, sendAt: null, validitySeconds: 60 })), undefined);
    assert.equal(conflictingField(sent, fingerprintOf({ to: '+4520123456', from: 'Acme', body: 'b', callbackUrl: undefined, sendAt: undefined, validitySeconds: 60 })), 'body');
    const stored = fingerprintOf({ to: '+4520123456', from: 'Acme', body: 'a', callbackUrl: null, sendAt: null });
    assert.equal(conflictingField(stored, fingerprintOf({ to: '+4520123456', from: 'Acme', body: 'a', callbackUrl: undefined, sendAt: undefined, validitySeconds: 999 })), undefined);
    assert.equal(
      conflictingField(fingerprintOf({ sendAt: new Date('2026-12-24T17:00:00Z') }), fingerprintOf({ sendAt: new Date('2026-12-24T18:00:00+01:00') })),
      undefined,
    );
  });
});

describe('SmsRouterClient over a recording Temporal client', () => {
  test('invalid input throws a typed error and starts nothing', async () => {
    const temporal = recordingTemporal();
    const sdk = new SmsRouterClient({ client: temporal.client, accountId: 'acme' });
    await assert.rejects(sdk.send({ ...valid, to: 'not a number' }), { name: 'InvalidMessageError', field: 'to' });
    await assert.rejects(sdk.send({ ...valid, body: '' }), { name: 'InvalidMessageError', field: 'body' });
    await assert.rejects(sdk.sendBatch({ from: 'Acme', body: 'hi', callbackUrl: 'nope', recipients: ['+4520123456'] }), { field: 'callbackUrl' });
    await assert.rejects(sdk.sendBatch({ from: 'Acme', body: 'hi', recipients: [] }), { field: 'recipients' });
    assert.equal(temporal.started.length, 0);
  });

  test('a message starts as the account, with its search attributes, a fingerprint and REJECT_DUPLICATE', async () => {
    const temporal = recordingTemporal();
    const sdk = new SmsRouterClient({ client: temporal.client, accountId: 'acme', policy: { maxResends: 0 } });
    const accepted = await sdk.send({ ...valid, clientRef: 'r1' });
    assert.deepEqual(accepted, { id: messageIdFor('acme', 'r1'), to: '+4520123456', status: 'accepted' });
    const [start] = temporal.started as unknown as { workflowId: string; workflowIdReusePolicy: string; typedSearchAttributes: { key: { name: string }; value: string }[]; memo: object; args: { policy: object }[] }[];
    assert.ok(start);
    assert.equal(start.workflowIdReusePolicy, 'REJECT_DUPLICATE');
    assert.deepEqual(
      start.typedSearchAttributes.map(({ key, value }) => [key.name, value]),
      [['SmsStatus', 'accepted'], ['SmsAccount', 'acme'], ['SmsCountry', 'DK']],
    );
    assert.deepEqual(start.args[0]?.policy, { ...DEFAULT_MESSAGE_POLICY, maxResends: 0 });
    assert.ok(Object.keys(start.memo).length > 0);
  });

  test('the same clientRef with the same content is the one message; with other content a conflict naming the field', async () => {
    const temporal = recordingTemporal();
    const sdk = new SmsRouterClient({ client: temporal.client, accountId: 'acme' });
    const first = await sdk.send({ ...valid, clientRef: 'r1' });
    const again = await sdk.send({ ...valid, to: '+4520123456', clientRef: 'r1' });
    assert.deepEqual(again, { ...first, duplicate: true });
    await assert.rejects(
      sdk.send({ ...valid, body: 'another text', clientRef: 'r1' }),
      (error: unknown) => error instanceof MessageConflictError && error.field === 'body' && error.messageId === first.id,
    );
    assert.equal(temporal.started.length, 1);
  });

  test('in a batch a conflicting recipient is listed and the others are sent', async () => {
    const temporal = recordingTemporal();
    const sdk = new SmsRouterClient({ client: temporal.client, accountId: 'acme' });
    await sdk.send({ ...valid, to: '+4520123457', clientRef: 'mine' });
    const result = await sdk.sendBatch({ from: 'Acme', body: 'other', recipients: ['+4520123456', { to: '+4520123457', clientRef: 'mine' }] });
    assert.equal(result.messages.length, 1);
    assert.deepEqual(
      result.errors.map((error) => [error.index, error.error.code, error.error.field]),
      [[1, 'conflict', 'body']],
    );
  });

  test('a store that remembers a clientRef answers for it without a start', async () => {
    const temporal = recordingTemporal();
    const known = { id: 'stored-id', clientRef: 'old', to: '+4520123456', from: 'Acme', body: valid.body, callbackUrl: null, sendAt: null };
    const sdk = new SmsRouterClient({ client: temporal.client, accountId: 'acme', knownMessages: async () => [known] });
    assert.deepEqual(await sdk.send({ ...valid, clientRef: 'old', validitySeconds: 30 }), { id: 'stored-id', to: '+4520123456', status: 'accepted', duplicate: true });
    await assert.rejects(sdk.send({ ...valid, from: 'Other', clientRef: 'old' }), { name: 'MessageConflictError', field: 'from' });
    assert.equal(temporal.started.length, 0);
  });
});
