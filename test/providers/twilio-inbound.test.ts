import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeliveryReportAuthError, InboundFormatError } from '../../src/providers/errors';
import { twilioInbound, twilioSignature } from '../../src/providers/twilio';
import type { Credentials, InboundCallback, InboundSms } from '../../src/providers/types';

// Contract table for Twilio's incoming message webhook, from PROVIDERS.md §5b and the §5f vector.

const CREDENTIALS: Credentials = { accountSid: 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', authToken: '0123456789abcdef0123456789abcdef' };
const VECTOR_URL = 'https://sms.example.com/inbound/twilio?acct=acme';
const VECTOR_BODY =
  'Body=STOP&From=%2B14155550100&To=%2B14155550199&MessageSid=SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb&AccountSid=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&OptOutType=STOP&NumMedia=0';
const VECTOR_SIGNATURE = 'WCCbNmxObHfOMei8lGiDvOjqkGg=';

const vector = (overrides: Partial<InboundCallback> = {}): InboundCallback => ({
  method: 'POST',
  url: VECTOR_URL,
  headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': VECTOR_SIGNATURE },
  rawBody: VECTOR_BODY,
  ...overrides,
});

/** A form POST signed as Twilio would sign it, for the cases the vector does not cover. */
const signedForm = (fields: Record<string, string>): InboundCallback => {
  const params = new URLSearchParams(fields);
  return {
    method: 'POST',
    url: VECTOR_URL,
    headers: { 'x-twilio-signature': twilioSignature(CREDENTIALS.authToken, VECTOR_URL, params) },
    rawBody: params.toString(),
  };
};

const FIELDS = { MessageSid: 'SMcccccccccccccccccccccccccccccccc', From: '+14155550100', To: '+14155550199', Body: 'Hello', NumMedia: '0' };

const parsedCases: readonly { label: string; callback: InboundCallback; expected: Omit<InboundSms, 'receivedAt'> }[] = [
  {
    label: '§5f vector: STOP with OptOutType',
    callback: vector(),
    expected: { providerMessageId: 'SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', from: '+14155550100', to: '+14155550199', text: 'STOP', encoding: 'gsm7', providerOptOut: 'STOP' },
  },
  {
    label: '§5f vector with the default port in the URL',
    callback: vector({ url: 'https://sms.example.com:443/inbound/twilio?acct=acme' }),
    expected: { providerMessageId: 'SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', from: '+14155550100', to: '+14155550199', text: 'STOP', encoding: 'gsm7', providerOptOut: 'STOP' },
  },
  {
    label: 'plain reply, unicode body',
    callback: signedForm({ ...FIELDS, Body: 'Ja tak 👍' }),
    expected: { providerMessageId: FIELDS.MessageSid, from: '+14155550100', to: '+14155550199', text: 'Ja tak 👍', encoding: 'ucs2' },
  },
  {
    label: 'SmsSid only (deprecated name), short code',
    callback: signedForm({ SmsSid: 'SMdddddddddddddddddddddddddddddddd', From: '+14155550100', To: '898211', Body: 'YES' }),
    expected: { providerMessageId: 'SMdddddddddddddddddddddddddddddddd', from: '+14155550100', to: '898211', text: 'YES', encoding: 'gsm7' },
  },
  {
    label: 'an unknown OptOutType is not an opt-out',
    callback: signedForm({ ...FIELDS, OptOutType: 'MAYBE' }),
    expected: { providerMessageId: FIELDS.MessageSid, from: '+14155550100', to: '+14155550199', text: 'Hello', encoding: 'gsm7' },
  },
];

describe('twilio inbound: documented formats parse', () => {
  for (const { label, callback, expected } of parsedCases) {
    test(label, () => {
      const [sms, ...rest] = twilioInbound.parseInbound(callback, CREDENTIALS);
      assert.equal(rest.length, 0);
      assert.ok(sms);
      const { receivedAt, ...fields } = sms;
      assert.deepEqual(fields, expected);
      assert.ok(!Number.isNaN(Date.parse(receivedAt)));
    });
  }

  test('GET: the signature covers the URL alone', () => {
    const url = `${VECTOR_URL}&${new URLSearchParams(FIELDS).toString()}`;
    const callback: InboundCallback = { method: 'GET', url, headers: { 'x-twilio-signature': twilioSignature(CREDENTIALS.authToken, url, []) }, rawBody: '' };
    assert.equal(twilioInbound.parseInbound(callback, CREDENTIALS)[0]?.text, 'Hello');
  });
});

const refusedCases: readonly { label: string; callback: InboundCallback; credentials?: Credentials; error: new (...args: never[]) => Error }[] = [
  { label: 'no X-Twilio-Signature: fail closed', callback: vector({ headers: {} }), error: DeliveryReportAuthError },
  { label: 'body changed after signing', callback: vector({ rawBody: VECTOR_BODY.replace('Body=STOP', 'Body=START') }), error: DeliveryReportAuthError },
  { label: 'signed for another URL', callback: vector({ url: 'https://sms.example.com/inbound/twilio?acct=other' }), error: DeliveryReportAuthError },
  { label: 'another auth token', callback: vector(), credentials: { ...CREDENTIALS, authToken: 'f'.repeat(32) }, error: DeliveryReportAuthError },
  { label: 'no MessageSid', callback: signedForm({ From: FIELDS.From, To: FIELDS.To, Body: 'x' }), error: InboundFormatError },
  { label: 'no From', callback: signedForm({ MessageSid: FIELDS.MessageSid, To: FIELDS.To, Body: 'x' }), error: InboundFormatError },
  { label: 'NUL byte in the body', callback: signedForm({ ...FIELDS, Body: 'a\u0000b' }), error: InboundFormatError },
  { label: 'body past the bound', callback: signedForm({ ...FIELDS, Body: 'x'.repeat(2_201) }), error: InboundFormatError },
  { label: 'To is not a number', callback: signedForm({ ...FIELDS, To: 'whatsapp:+14155550199' }), error: InboundFormatError },
];

describe('twilio inbound: refused', () => {
  for (const { label, callback, credentials, error } of refusedCases) {
    test(label, () => {
      assert.throws(() => twilioInbound.parseInbound(callback, credentials ?? CREDENTIALS), error);
    });
  }
});

test('twilio inbound is answered with an empty TwiML response', () => {
  assert.deepEqual(twilioInbound.inboundAcknowledgement, { statusCode: 200, contentType: 'text/xml', body: '<Response></Response>' });
});
