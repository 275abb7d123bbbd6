import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeliveryReportAuthError, DeliveryReportFormatError, InboundFormatError } from '../../src/providers/errors';
import type { Credentials, InboundCallback, InboundSms } from '../../src/providers/types';
import { vonageInbound } from '../../src/providers/vonage';

// Contract table for Vonage inbound SMS, from PROVIDERS.md §5a and the §5f signature vector.

const URL_BASE = 'https://router.example/v1/inbound/vonage';
const UNSIGNED: Credentials = { apiKey: 'abcd1234', apiSecret: 'abcdef0123456789' };
const MD5_HASH: Credentials = { ...UNSIGNED, signatureSecret: 'vonage_test_secret' };
const SHA256: Credentials = { ...MD5_HASH, signatureMethod: 'sha256' };

/** §5f's body, signed at its own `timestamp`; the clock is set there for the signed cases. */
const VECTOR_FIELDS = {
  keyword: 'STOP',
  'message-timestamp': '2025-01-15 10:30:00',
  messageId: '0A0000001234ABCD',
  msisdn: '447700900001',
  nonce: '6d5b2f1e-9c3a-4b7e-8f10-2a4c6e8b0d12',
  text: 'Stop & remove me=now',
  timestamp: '1736937000',
  to: '447700900000',
  type: 'text',
};
const VECTOR_NOW_MS = 1736937000 * 1000;
const MD5_SIG = '58de6e0af2917243858340380a570c16';
const SHA256_SIG = '098e1c4b171749e3d93cfae84be7957ef200330adf170cc2b5d128c760d4ff69';

const VECTOR_SMS: InboundSms = {
  providerMessageId: '0A0000001234ABCD',
  from: '+447700900001',
  to: '+447700900000',
  text: 'Stop & remove me=now',
  encoding: 'gsm7',
  receivedAt: '2025-01-15T10:30:00.000Z',
};

const json = (fields: Record<string, unknown>): InboundCallback => ({
  method: 'POST',
  url: URL_BASE,
  headers: { 'content-type': 'application/json' },
  rawBody: JSON.stringify(fields),
});
const form = (fields: Record<string, string>): InboundCallback => ({
  method: 'POST',
  url: URL_BASE,
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  rawBody: new URLSearchParams(fields).toString(),
});
const get = (fields: Record<string, string>): InboundCallback => ({
  method: 'GET',
  url: `${URL_BASE}?${new URLSearchParams(fields).toString()}`,
  headers: {},
  rawBody: '',
});

const UNSIGNED_FIELDS = { msisdn: '447700900001', to: '447700900000', messageId: '0A0000001234ABCD', text: 'Hello', type: 'text', keyword: 'HELLO', 'message-timestamp': '2025-01-15 10:30:00' };
const UNSIGNED_SMS: InboundSms = { ...VECTOR_SMS, text: 'Hello' };

const parsedCases: readonly { label: string; callback: InboundCallback; credentials: Credentials; expected: InboundSms }[] = [
  { label: '§5f vector, POST-JSON, MD5 hash', callback: json({ ...VECTOR_FIELDS, sig: MD5_SIG }), credentials: MD5_HASH, expected: VECTOR_SMS },
  { label: '§5f vector, POST-JSON, SHA-256 HMAC (upper-case hex)', callback: json({ ...VECTOR_FIELDS, sig: SHA256_SIG.toUpperCase() }), credentials: SHA256, expected: VECTOR_SMS },
  { label: '§5f vector as a form POST', callback: form({ ...VECTOR_FIELDS, sig: MD5_SIG }), credentials: MD5_HASH, expected: VECTOR_SMS },
  { label: '§5f vector as a GET query', callback: get({ ...VECTOR_FIELDS, sig: MD5_SIG }), credentials: MD5_HASH, expected: VECTOR_SMS },
  { label: 'unsigned account, JSON', callback: json(UNSIGNED_FIELDS), credentials: UNSIGNED, expected: UNSIGNED_SMS },
  { label: 'unicode text', callback: json({ ...UNSIGNED_FIELDS, type: 'unicode', text: 'Hej 😀' }), credentials: UNSIGNED, expected: { ...UNSIGNED_SMS, text: 'Hej 😀', encoding: 'ucs2' } },
  { label: 'binary: the data field, hex', callback: json({ ...UNSIGNED_FIELDS, type: 'binary', text: undefined, data: '48656c6c6f', udh: '050003cc0201' }), credentials: UNSIGNED, expected: { ...UNSIGNED_SMS, text: '48656c6c6f', encoding: 'binary' } },
  {
    label: 'concatenated part 2 of 3',
    callback: json({ ...UNSIGNED_FIELDS, concat: 'true', 'concat-ref': '108', 'concat-total': '3', 'concat-part': '2' }),
    credentials: UNSIGNED,
    expected: { ...UNSIGNED_SMS, concat: { ref: '108', total: 3, part: 2 } },
  },
  { label: 'a short code as the receiving number', callback: json({ ...UNSIGNED_FIELDS, to: '12345' }), credentials: UNSIGNED, expected: { ...UNSIGNED_SMS, to: '12345' } },
];

describe('vonage inbound: documented formats parse', () => {
  for (const { label, callback, credentials, expected } of parsedCases) {
    test(label, (t) => {
      t.mock.method(Date, 'now', () => VECTOR_NOW_MS);
      assert.deepEqual(vonageInbound.parseInbound(callback, credentials), [expected]);
    });
  }
});

const refusedCases: readonly { label: string; callback: InboundCallback; credentials: Credentials; error: new (...args: never[]) => Error }[] = [
  { label: 'signing on, no sig: fail closed', callback: json(VECTOR_FIELDS), credentials: MD5_HASH, error: DeliveryReportAuthError },
  { label: 'signing on, text changed after signing', callback: json({ ...VECTOR_FIELDS, text: 'START', sig: MD5_SIG }), credentials: MD5_HASH, error: DeliveryReportAuthError },
  { label: 'MD5 sig checked as SHA-256', callback: json({ ...VECTOR_FIELDS, sig: MD5_SIG }), credentials: SHA256, error: DeliveryReportAuthError },
  { label: 'another API key', callback: json({ ...UNSIGNED_FIELDS, 'api-key': 'someone-else' }), credentials: UNSIGNED, error: DeliveryReportAuthError },
  { label: 'no messageId', callback: json({ ...UNSIGNED_FIELDS, messageId: undefined }), credentials: UNSIGNED, error: InboundFormatError },
  { label: 'no msisdn', callback: json({ ...UNSIGNED_FIELDS, msisdn: undefined }), credentials: UNSIGNED, error: InboundFormatError },
  { label: 'sender is not a number', callback: json({ ...UNSIGNED_FIELDS, msisdn: 'Acme' }), credentials: UNSIGNED, error: InboundFormatError },
  { label: 'unknown type', callback: json({ ...UNSIGNED_FIELDS, type: 'wap' }), credentials: UNSIGNED, error: InboundFormatError },
  { label: 'NUL byte in the text', callback: json({ ...UNSIGNED_FIELDS, text: 'STOP\u0000' }), credentials: UNSIGNED, error: InboundFormatError },
  { label: 'text past the bound', callback: json({ ...UNSIGNED_FIELDS, text: 'x'.repeat(2_201) }), credentials: UNSIGNED, error: InboundFormatError },
  { label: 'message id past the bound', callback: json({ ...UNSIGNED_FIELDS, messageId: 'x'.repeat(129) }), credentials: UNSIGNED, error: InboundFormatError },
  { label: 'concat part beyond its total', callback: json({ ...UNSIGNED_FIELDS, concat: 'true', 'concat-ref': '1', 'concat-total': '2', 'concat-part': '3' }), credentials: UNSIGNED, error: InboundFormatError },
  { label: 'concat without a ref', callback: json({ ...UNSIGNED_FIELDS, concat: 'true', 'concat-total': '2', 'concat-part': '1' }), credentials: UNSIGNED, error: InboundFormatError },
  { label: 'a JSON array', callback: { ...json({}), rawBody: '[1]' }, credentials: UNSIGNED, error: DeliveryReportFormatError },
  { label: 'a nested field', callback: json({ ...UNSIGNED_FIELDS, text: { a: 1 } }), credentials: UNSIGNED, error: DeliveryReportFormatError },
];

describe('vonage inbound: refused', () => {
  for (const { label, callback, credentials, error } of refusedCases) {
    test(label, (t) => {
      t.mock.method(Date, 'now', () => VECTOR_NOW_MS);
      assert.throws(() => vonageInbound.parseInbound(callback, credentials), error);
    });
  }

  test('a correctly signed request from long ago is refused (replay)', () => {
    assert.throws(() => vonageInbound.parseInbound(json({ ...VECTOR_FIELDS, sig: MD5_SIG }), MD5_HASH), DeliveryReportAuthError);
  });
});

test('vonage inbound is acknowledged with a 200', () => {
  assert.equal(vonageInbound.inboundAcknowledgement.statusCode, 200);
});
