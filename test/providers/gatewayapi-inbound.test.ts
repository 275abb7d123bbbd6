import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withoutSharedKeyword } from '../../src/domain/inbound';
import { classifyKeyword } from '../../src/domain/opt-out';
import { DeliveryReportAuthError, InboundFormatError } from '../../src/providers/errors';
import { gatewayApiInbound, gatewayApiSignature } from '../../src/providers/gatewayapi';
import type { Credentials, InboundCallback, InboundSms } from '../../src/providers/types';

// Contract table for GatewayAPI MO SMS, from PROVIDERS.md §5c and the §5f vector.

const SIGNED: Credentials = { token: 'api-token', webhookSecret: 'gwapi_test_secret' };
const UNSIGNED: Credentials = { token: 'api-token' };
const VECTOR_BODY =
  '{"id":1000001,"msisdn":4587654321,"receiver":451204,"message":"foo STOP","senttime":1736937000,"webhook_label":"test","country_code":"DK","country_prefix":45}';
const VECTOR_TOKEN =
  'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpZCI6MTAwMDAwMSwibXNpc2RuIjo0NTg3NjU0MzIxLCJyZWNlaXZlciI6NDUxMjA0LCJtZXNzYWdlIjoiZm9vIFNUT1AiLCJzZW50dGltZSI6MTczNjkzNzAwMCwid2ViaG9va19sYWJlbCI6InRlc3QiLCJjb3VudHJ5X2NvZGUiOiJESyIsImNvdW50cnlfcHJlZml4Ijo0NX0.ZyvJG1qAHZ6RDyClN2gmXFrNP9eE_TX30Iw52lz0ZqU';

const VECTOR_SMS: InboundSms = {
  providerMessageId: '1000001',
  from: '+4587654321',
  to: '451204',
  text: 'foo STOP',
  encoding: 'gsm7',
  receivedAt: '2025-01-15T10:30:00.000Z',
};

const post = (body: string, token?: string): InboundCallback => ({
  method: 'POST',
  url: 'https://router.example/v1/inbound/gatewayapi',
  headers: { 'content-type': 'application/json', ...(token ? { 'x-gwapi-signature': token } : {}) },
  rawBody: body,
});
const signedBy = (payload: Record<string, unknown>): string => gatewayApiSignature(payload, 'gwapi_test_secret');
const VECTOR = JSON.parse(VECTOR_BODY) as Record<string, unknown>;

describe('gatewayapi inbound: documented formats parse', () => {
  const cases: readonly { label: string; callback: InboundCallback; credentials: Credentials; expected: InboundSms }[] = [
    { label: '§5f vector, signed', callback: post(VECTOR_BODY, VECTOR_TOKEN), credentials: SIGNED, expected: VECTOR_SMS },
    { label: 'token with callback_url and api claims', callback: post(VECTOR_BODY, signedBy({ ...VECTOR, callback_url: 'https://x', api: 4 })), credentials: SIGNED, expected: VECTOR_SMS },
    { label: 'unsigned webhook', callback: post(VECTOR_BODY), credentials: UNSIGNED, expected: VECTOR_SMS },
    {
      label: 'UCS2 encoding, sender a full number',
      callback: post(JSON.stringify({ ...VECTOR, encoding: 'UCS2', message: 'Æblegrød 😀', receiver: 4520123456 })),
      credentials: UNSIGNED,
      expected: { ...VECTOR_SMS, text: 'Æblegrød 😀', encoding: 'ucs2', to: '+4520123456' },
    },
  ];
  for (const { label, callback, credentials, expected } of cases) {
    test(label, () => assert.deepEqual(gatewayApiInbound.parseInbound(callback, credentials), [expected]));
  }
});

describe('gatewayapi inbound: refused', () => {
  const cases: readonly { label: string; callback: InboundCallback; credentials: Credentials; error: new (...args: never[]) => Error }[] = [
    { label: 'secret set, no X-Gwapi-Signature: fail closed', callback: post(VECTOR_BODY), credentials: SIGNED, error: DeliveryReportAuthError },
    { label: 'vector token, other secret', callback: post(VECTOR_BODY, VECTOR_TOKEN), credentials: { ...SIGNED, webhookSecret: 'other' }, error: DeliveryReportAuthError },
    { label: 'vector token replayed for another message', callback: post(JSON.stringify({ ...VECTOR, message: 'START' }), VECTOR_TOKEN), credentials: SIGNED, error: DeliveryReportAuthError },
    { label: 'vector token replayed for another sender', callback: post(JSON.stringify({ ...VECTOR, msisdn: 4511111111 }), VECTOR_TOKEN), credentials: SIGNED, error: DeliveryReportAuthError },
    { label: 'a signed DSN vouching for an MO', callback: post(VECTOR_BODY, signedBy({ id: 1000001, status: 'DELIVERED' })), credentials: SIGNED, error: DeliveryReportAuthError },
    { label: 'alg none', callback: post(VECTOR_BODY, `${Buffer.from('{"alg":"none"}').toString('base64url')}.${VECTOR_TOKEN.split('.')[1]}.`), credentials: SIGNED, error: DeliveryReportAuthError },
    { label: 'not JSON', callback: post('id=1'), credentials: UNSIGNED, error: InboundFormatError },
    { label: 'no id', callback: post(JSON.stringify({ ...VECTOR, id: undefined })), credentials: UNSIGNED, error: InboundFormatError },
    { label: 'no receiver', callback: post(JSON.stringify({ ...VECTOR, receiver: undefined })), credentials: UNSIGNED, error: InboundFormatError },
    { label: 'NUL byte in the message', callback: post(JSON.stringify({ ...VECTOR, message: 'STOP\u0000' })), credentials: UNSIGNED, error: InboundFormatError },
    { label: 'message past the bound', callback: post(JSON.stringify({ ...VECTOR, message: 'x'.repeat(2_201) })), credentials: UNSIGNED, error: InboundFormatError },
  ];
  for (const { label, callback, credentials, error } of cases) {
    test(label, () => assert.throws(() => gatewayApiInbound.parseInbound(callback, credentials), error));
  }
});

test('gatewayapi inbound is acknowledged with a 200', () => {
  assert.equal(gatewayApiInbound.inboundAcknowledgement.statusCode, 200);
});

// §5c: on a shared short code the keyword routes the message and stays in it ("foo hello" to 1204).
// The adapter cannot know which keyword is ours (the vector above keeps "foo STOP"); the store strips
// the one configured on the number (OwnedNumber.keyword) before classification and delivery.
describe('gatewayapi inbound: a shared short code keyword is stripped', () => {
  const cases: readonly { label: string; text: string; keyword: string | null; expected: string; kind: string }[] = [
    { label: '§5f vector: "foo STOP" to keyword foo is a STOP', text: 'foo STOP', keyword: 'FOO', expected: 'STOP', kind: 'opt_out' },
    { label: '§5c example: "foo hello"', text: 'foo hello', keyword: 'FOO', expected: 'hello', kind: 'none' },
    { label: 'any case, extra spaces', text: '  Foo   start', keyword: 'FOO', expected: 'start', kind: 'opt_in' },
    { label: 'the keyword alone', text: 'FOO', keyword: 'FOO', expected: '', kind: 'none' },
    { label: 'a longer first word is the sender\'s', text: 'food STOP', keyword: 'FOO', expected: 'food STOP', kind: 'none' },
    { label: 'a text without the keyword is left alone', text: 'STOP', keyword: 'FOO', expected: 'STOP', kind: 'opt_out' },
    { label: 'a number of its own has no keyword', text: 'foo STOP', keyword: null, expected: 'foo STOP', kind: 'none' },
  ];
  for (const { label, text, keyword, expected, kind } of cases) {
    test(label, () => {
      const stripped = withoutSharedKeyword(text, keyword);
      assert.equal(stripped, expected);
      assert.equal(classifyKeyword(stripped).kind, kind);
    });
  }
});
