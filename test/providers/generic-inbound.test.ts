import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeliveryReportAuthError, InboundFormatError } from '../../src/providers/errors';
import { genericInbound } from '../../src/providers/generic';
import type { Credentials, InboundCallback, InboundSms } from '../../src/providers/types';

// Contract table for our generic inbound JSON, PROVIDERS.md §5e.

const CREDENTIALS: Credentials = { apiKey: 'key-1', dlrSecret: 's3cret' };
const DOCUMENTED = { id: 'mo-7f3c', from: '+447700900001', to: '+447700900000', text: 'STOP', encoding: 'gsm7', receivedAt: '2025-01-15T10:30:00Z', concat: { ref: 'a1', total: 2, part: 1 } };

const post = (body: unknown, headers: Record<string, string> = { 'x-dlr-secret': 's3cret' }, url = 'https://router.example/v1/inbound/sim-generic'): InboundCallback => ({
  method: 'POST',
  url,
  headers: { 'content-type': 'application/json', ...headers },
  rawBody: typeof body === 'string' ? body : JSON.stringify(body),
});

const DOCUMENTED_SMS: InboundSms = {
  providerMessageId: 'mo-7f3c',
  from: '+447700900001',
  to: '+447700900000',
  text: 'STOP',
  encoding: 'gsm7',
  receivedAt: '2025-01-15T10:30:00.000Z',
  concat: { ref: 'a1', total: 2, part: 1 },
};

describe('generic inbound: documented formats parse', () => {
  const { concat: _concat, ...whole } = DOCUMENTED_SMS;
  const cases: readonly { label: string; callback: InboundCallback; expected: InboundSms }[] = [
    { label: 'documented example (a part), secret in the header', callback: post(DOCUMENTED), expected: DOCUMENTED_SMS },
    { label: 'secret in the query', callback: post(DOCUMENTED, {}, 'https://router.example/v1/inbound/sim-generic?secret=s3cret'), expected: DOCUMENTED_SMS },
    { label: 'a whole message, no concat', callback: post({ ...DOCUMENTED, concat: undefined }), expected: whole },
    { label: 'binary, base64 text', callback: post({ ...DOCUMENTED, concat: undefined, encoding: 'binary', text: 'SGVsbG8=' }), expected: { ...whole, encoding: 'binary', text: 'SGVsbG8=' } },
  ];
  for (const { label, callback, expected } of cases) {
    test(label, () => assert.deepEqual(genericInbound.parseInbound(callback, CREDENTIALS), [expected]));
  }

  test('receivedAt defaults to arrival, encoding to gsm7', () => {
    const before = Date.now();
    const [sms] = genericInbound.parseInbound(post({ id: 'mo-1', from: '+447700900001', to: '+447700900000', text: 'hi' }), CREDENTIALS);
    assert.equal(sms?.encoding, 'gsm7');
    assert.ok(Date.parse(sms?.receivedAt ?? '') >= before - 1000);
  });
});

describe('generic inbound: refused', () => {
  const cases: readonly { label: string; callback: InboundCallback; error: new (...args: never[]) => Error }[] = [
    { label: 'no secret: fail closed', callback: post(DOCUMENTED, {}), error: DeliveryReportAuthError },
    { label: 'wrong secret', callback: post(DOCUMENTED, { 'x-dlr-secret': 'guess' }), error: DeliveryReportAuthError },
    { label: 'not JSON', callback: post('{'), error: InboundFormatError },
    { label: 'id missing', callback: post({ ...DOCUMENTED, id: undefined }), error: InboundFormatError },
    { label: 'id not a string', callback: post({ ...DOCUMENTED, id: 7 }), error: InboundFormatError },
    { label: 'text missing', callback: post({ ...DOCUMENTED, text: undefined }), error: InboundFormatError },
    { label: 'unknown encoding', callback: post({ ...DOCUMENTED, encoding: 'utf16' }), error: InboundFormatError },
    { label: 'receivedAt not a time', callback: post({ ...DOCUMENTED, receivedAt: 'yesterday' }), error: InboundFormatError },
    { label: 'concat not an object', callback: post({ ...DOCUMENTED, concat: 'a1' }), error: InboundFormatError },
    { label: 'concat part 0', callback: post({ ...DOCUMENTED, concat: { ref: 'a1', total: 2, part: 0 } }), error: InboundFormatError },
    { label: 'concat total above 255', callback: post({ ...DOCUMENTED, concat: { ref: 'a1', total: 256, part: 1 } }), error: InboundFormatError },
    { label: 'NUL byte in the sender', callback: post({ ...DOCUMENTED, from: '+4477\u000000900001' }), error: InboundFormatError },
    { label: 'sender too long', callback: post({ ...DOCUMENTED, from: '+'.padEnd(40, '1') }), error: InboundFormatError },
  ];
  for (const { label, callback, error } of cases) {
    test(label, () => assert.throws(() => genericInbound.parseInbound(callback, CREDENTIALS), error));
  }

  test('without a dlrSecret the generic inbound webhook is open, as its DLRs are', () => {
    assert.equal(genericInbound.parseInbound(post(DOCUMENTED, {}), { apiKey: 'k' }).length, 1);
  });
});

test('generic inbound is answered 204', () => {
  assert.equal(genericInbound.inboundAcknowledgement.statusCode, 204);
});
