import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveryReportStatus } from '../../src/domain/status';
import { CredentialsError } from '../../src/providers/credentials';
import { AmbiguousSubmitError, DeliveryReportAuthError, DeliveryReportFormatError } from '../../src/providers/errors';
import { gatewayApiAdapter, gatewayApiSignature } from '../../src/providers/gatewayapi';
import type { Credentials, DeliveryReport, HttpRequest, HttpResponse, InboundCallback, OutboundSms, SubmitOutcome } from '../../src/providers/types';
import { gatewayApiDialect } from '../../src/simulator/dialects/gatewayapi';
import type { SimulatedFailure, SimulatedOutcome } from '../../src/simulator/dialects/types';
import { HUGE, LONG_REASON, NOT_OUR_ID, WITH_NUL, refusesHostileCallbacks } from './hostile';

// Contract table for GatewayAPI classic REST, from PROVIDERS.md §3a (onlinecity/gatewayapi-docs).

const CREDENTIALS: Credentials = { token: 'GoGenerateAnApiToken' };
const SIGNED: Credentials = { ...CREDENTIALS, webhookSecret: 'secret' };

const REQUEST_BASE = {
  method: 'POST',
  path: '/rest/mtsms',
  headers: { 'content-type': 'application/json', accept: 'application/json', authorization: 'Basic R29HZW5lcmF0ZUFuQXBpVG9rZW46' },
} as const;

const DOCUMENTED_SMS: OutboundSms = {
  messageId: '3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b',
  to: '+4512345678',
  from: 'ExampleSMS',
  body: 'Hello World',
  encoding: 'ucs2',
  deliveryReportUrl: 'https://example.com/cb',
  validitySeconds: 86_400,
};

const requestCases: readonly { label: string; sms: OutboundSms; expected: HttpRequest }[] = [
  {
    label: 'documented example: UCS2, userref, validity, callback, integer msisdn',
    sms: DOCUMENTED_SMS,
    expected: {
      ...REQUEST_BASE,
      body: '{"sender":"ExampleSMS","message":"Hello World","encoding":"UCS2","userref":"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b","validity_period":86400,"callback_url":"https://example.com/cb","recipients":[{"msisdn":4512345678}]}',
    },
  },
  {
    label: 'GSM-7 leaves the UTF8 default; no validity, no validity_period',
    sms: { ...DOCUMENTED_SMS, encoding: 'gsm7', validitySeconds: undefined },
    expected: {
      ...REQUEST_BASE,
      body: '{"sender":"ExampleSMS","message":"Hello World","userref":"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b","callback_url":"https://example.com/cb","recipients":[{"msisdn":4512345678}]}',
    },
  },
  {
    label: 'validity under a minute is raised to 60',
    sms: { ...DOCUMENTED_SMS, validitySeconds: 10 },
    expected: {
      ...REQUEST_BASE,
      body: '{"sender":"ExampleSMS","message":"Hello World","encoding":"UCS2","userref":"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b","validity_period":60,"callback_url":"https://example.com/cb","recipients":[{"msisdn":4512345678}]}',
    },
  },
];

for (const { label, sms, expected } of requestCases) {
  test(`gatewayapi request: ${label}`, () => {
    assert.deepEqual(gatewayApiAdapter.buildSubmitRequest(sms, CREDENTIALS), expected);
  });
}

test('gatewayapi request: missing token is a credentials error', () => {
  assert.throws(() => gatewayApiAdapter.buildSubmitRequest(DOCUMENTED_SMS, {}), CredentialsError);
});

function answer(statusCode: number, body: string, headers: HttpResponse['headers'] = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body };
}

function gatewayError(statusCode: number, code: string, message: string, variables: string[] = []): HttpResponse {
  return answer(statusCode, JSON.stringify({ code, incident_uuid: 'd8127429-fa0c-4316-b1f2-e610c3958f43', message, variables }));
}

const responseCases: readonly { label: string; response: HttpResponse; expected: SubmitOutcome | typeof AmbiguousSubmitError }[] = [
  {
    label: 'documented success',
    response: answer(200, '{"ids":[421332671],"usage":{"countries":{"DK":2},"currency":"DKK","total_cost":0.30}}'),
    expected: { kind: 'accepted', providerMessageIds: ['421332671'] },
  },
  {
    label: 'documented error body: variables fill the message',
    response: answer(
      403,
      '{"code":"0x0213","incident_uuid":"d8127429-fa0c-4316-b1f2-e610c3958f43","message":"Unauthorized IP-address: %1","variables":["1.2.3.4"]}',
    ),
    expected: { kind: 'permanent', code: 'gatewayapi:0x0213', reason: 'Unauthorized IP-address: 1.2.3.4' },
  },
  {
    label: 'bad credentials: 401 / 0x0210',
    response: gatewayError(401, '0x0210', 'Invalid username: %1', ['nobody']),
    expected: { kind: 'permanent', code: 'gatewayapi:0x0210', reason: 'Invalid username: nobody' },
  },
  {
    label: 'bad credentials: 401 / 0x0224 invalid OAuth signature',
    response: gatewayError(401, '0x0224', 'Invalid signature'),
    expected: { kind: 'permanent', code: 'gatewayapi:0x0224', reason: 'Invalid signature' },
  },
  {
    label: 'insufficient credit: 403 / 0x0216',
    response: gatewayError(403, '0x0216', 'Insufficient credit'),
    expected: { kind: 'permanent', code: 'gatewayapi:0x0216', reason: 'Insufficient credit' },
  },
  {
    label: 'blocked: 403 / 0x0215 recipient blacklisted',
    response: gatewayError(403, '0x0215', 'MSISDN %1 blacklisted', ['4512345678']),
    expected: { kind: 'permanent', code: 'gatewayapi:0x0215', reason: 'MSISDN 4512345678 blacklisted' },
  },
  {
    label: 'blocked: 403 / 0x0217 destination country',
    response: gatewayError(403, '0x0217', 'Unauthorized destination: country %1', ['KP']),
    expected: { kind: 'permanent', code: 'gatewayapi:0x0217', reason: 'Unauthorized destination: country KP' },
  },
  {
    label: 'invalid: 400 / 0x0222 missing parameter',
    response: gatewayError(400, '0x0222', 'Missing required parameter %1', ['recipients']),
    expected: { kind: 'permanent', code: 'gatewayapi:0x0222', reason: 'Missing required parameter recipients' },
  },
  {
    label: 'invalid: 422 / 0x0310 duplicate recipient',
    response: gatewayError(422, '0x0310', 'A message contains the same recipient more than once. MSISDNs %1 is duplicated', ['4512345678']),
    expected: {
      kind: 'permanent',
      code: 'gatewayapi:0x0310',
      reason: 'A message contains the same recipient more than once. MSISDNs 4512345678 is duplicated',
    },
  },
  {
    label: 'rejected: 422 / 0x0312 content filtered',
    response: gatewayError(422, '0x0312', 'Content filtered'),
    expected: { kind: 'permanent', code: 'gatewayapi:0x0312', reason: 'Content filtered' },
  },
  {
    label: 'general code 0x0209 "try again" with Retry-After',
    response: answer(429, '{"code":"0x0209","message":"Resource temporarily unavailable","variables":[]}', { 'retry-after': '5' }),
    expected: { kind: 'transient', code: 'gatewayapi:0x0209', reason: 'Resource temporarily unavailable', retryAfterMs: 5000 },
  },
  {
    label: '429 with no body',
    response: answer(429, ''),
    expected: { kind: 'transient', code: 'gatewayapi:http_429', reason: 'HTTP 429' },
  },
  {
    label: '500 with exception details',
    response: gatewayError(500, '0x0201', 'Unknown error'),
    expected: { kind: 'transient', code: 'gatewayapi:0x0201', reason: 'Unknown error' },
  },
  { label: '200 with a body that is not JSON', response: answer(200, 'OK'), expected: AmbiguousSubmitError },
  { label: '200 without ids', response: answer(200, '{"ids":[]}'), expected: AmbiguousSubmitError },
];

for (const { label, response, expected } of responseCases) {
  test(`gatewayapi response: ${label}`, () => {
    if (typeof expected === 'function') {
      assert.throws(() => gatewayApiAdapter.classifySubmitResponse(response), AmbiguousSubmitError);
    } else {
      assert.deepEqual(gatewayApiAdapter.classifySubmitResponse(response), expected);
    }
  });
}

const DLR_URL = 'https://router.example/v1/dlr/gatewayapi';

/** The documented DSN. */
const DOCUMENTED_DSN = {
  id: 1000001,
  msisdn: 4587654321,
  time: 1450000000,
  status: 'DELIVERED',
  userref: '7d9e0f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a',
  charge_status: 'CAPTURED',
  country_code: 'DK',
  country_prefix: 45,
};

const DOCUMENTED_REPORT: DeliveryReport = {
  messageId: '7d9e0f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a',
  providerMessageId: '1000001',
  status: 'delivered',
  providerStatus: 'DELIVERED',
  occurredAt: '2015-12-13T09:46:40.000Z',
};

/** The payload GatewayAPI's docs sign with secret `secret`, and the token they show for it. */
const SIGNED_SAMPLE = {
  id: 2381703,
  msisdn: 4542609045,
  time: 1522764062,
  status: 'DELIVERED',
  error: null,
  code: null,
  userref: null,
  callback_url: 'http://bbaf7142.ngrok.io',
  api: 4,
};
const SAMPLE_TOKEN =
  'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpZCI6MjM4MTcwMywibXNpc2RuIjo0NTQyNjA5MDQ1LCJ0aW1lIjoxNTIyNzY0MDYyLCJzdGF0dXMiOiJERUxJVkVSRUQiLCJlcnJvciI6bnVsbCwiY29kZSI6bnVsbCwidXNlcnJlZiI6bnVsbCwiY2FsbGJhY2tfdXJsIjoiaHR0cDovL2JiYWY3MTQyLm5ncm9rLmlvIiwiYXBpIjo0fQ.KdfDH65bnQtgxEkFnpAQodOciAJedZFB13r9wEo8t3Y';
const SAMPLE_BODY = { id: 2381703, msisdn: 4542609045, time: 1522764062, status: 'DELIVERED', error: null, code: null, userref: null };

function dsnCallback(dsn: Readonly<Record<string, unknown>>, token?: string): InboundCallback {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['x-gwapi-signature'] = token;
  return { method: 'POST', url: DLR_URL, headers, rawBody: JSON.stringify(dsn) };
}

function withStatus(status: string, code?: string, error?: string): Record<string, unknown> {
  return { ...DOCUMENTED_DSN, status, code, error };
}

const [HEADER, SAMPLE_PAYLOAD] = SAMPLE_TOKEN.split('.');
const ALG_NONE_HEADER = Buffer.from('{"typ":"JWT","alg":"none"}').toString('base64url');

/** Correctly HMAC-SHA256-signed with `secret`, but its header names another algorithm. */
function tokenClaimingAlg(alg: string): string {
  const signingInput = `${Buffer.from(JSON.stringify({ typ: 'JWT', alg })).toString('base64url')}.${SAMPLE_PAYLOAD}`;
  return `${signingInput}.${createHmac('sha256', 'secret').update(signingInput).digest('base64url')}`;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** A valid signature over the documented DSN with time claims added. */
function signedAt(claims: Readonly<Record<string, unknown>>): string {
  return gatewayApiSignature({ ...DOCUMENTED_DSN, callback_url: DLR_URL, api: 4, ...claims }, 'secret');
}

const dlrCases: readonly {
  label: string;
  callback: InboundCallback;
  credentials: Credentials;
  expected: DeliveryReport | typeof DeliveryReportAuthError | typeof DeliveryReportFormatError;
}[] = [
  { label: 'documented DSN', callback: dsnCallback(DOCUMENTED_DSN), credentials: CREDENTIALS, expected: DOCUMENTED_REPORT },
  {
    label: 'documented signed sample: the docs token over its body',
    callback: dsnCallback(SAMPLE_BODY, SAMPLE_TOKEN),
    credentials: SIGNED,
    expected: { providerMessageId: '2381703', status: 'delivered', providerStatus: 'DELIVERED', occurredAt: '2018-04-03T14:01:02.000Z' },
  },
  {
    label: 'UNDELIVERABLE / 0x1010 with GatewayAPI words',
    callback: dsnCallback(withStatus('UNDELIVERABLE', '0x1010', 'Unknown subscriber')),
    credentials: CREDENTIALS,
    expected: {
      ...DOCUMENTED_REPORT,
      status: 'undelivered',
      providerStatus: 'UNDELIVERABLE',
      errorCode: 'gatewayapi:0x1010',
      errorReason: 'Unknown subscriber',
      retryableOnOtherRoute: false,
    },
  },
  {
    label: 'REJECTED / 0x1050 routing error: another route may help',
    callback: dsnCallback(withStatus('REJECTED', '0x1050')),
    credentials: CREDENTIALS,
    expected: {
      ...DOCUMENTED_REPORT,
      status: 'rejected',
      providerStatus: 'REJECTED',
      errorCode: 'gatewayapi:0x1050',
      errorReason: 'internal routing error',
      retryableOnOtherRoute: true,
    },
  },
  {
    label: 'EXPIRED / 0x1013 absent subscriber',
    callback: dsnCallback(withStatus('EXPIRED', '0x1013', 'Absent subscriber')),
    credentials: CREDENTIALS,
    expected: {
      ...DOCUMENTED_REPORT,
      status: 'expired',
      providerStatus: 'EXPIRED',
      errorCode: 'gatewayapi:0x1013',
      errorReason: 'Absent subscriber',
      retryableOnOtherRoute: false,
    },
  },
  {
    label: 'UNKNOWN is where messages start: transient',
    callback: dsnCallback(withStatus('UNKNOWN')),
    credentials: CREDENTIALS,
    expected: { ...DOCUMENTED_REPORT, status: 'enroute', providerStatus: 'UNKNOWN' },
  },
  {
    label: 'BUFFERED',
    callback: dsnCallback(withStatus('BUFFERED')),
    credentials: CREDENTIALS,
    expected: { ...DOCUMENTED_REPORT, status: 'buffered', providerStatus: 'BUFFERED' },
  },
  {
    label: 'ENROUTE',
    callback: dsnCallback(withStatus('ENROUTE')),
    credentials: CREDENTIALS,
    expected: { ...DOCUMENTED_REPORT, status: 'enroute', providerStatus: 'ENROUTE' },
  },
  {
    label: 'ACCEPTED: final, the network took it for the user, outcome unknown',
    callback: dsnCallback(withStatus('ACCEPTED')),
    credentials: CREDENTIALS,
    expected: { ...DOCUMENTED_REPORT, status: 'unknown', providerStatus: 'ACCEPTED' },
  },
  {
    label: 'DELETED: cancelled before sending',
    callback: dsnCallback(withStatus('DELETED')),
    credentials: CREDENTIALS,
    expected: { ...DOCUMENTED_REPORT, status: 'rejected', providerStatus: 'DELETED' },
  },
  {
    label: 'SKIPPED by network rules',
    callback: dsnCallback(withStatus('SKIPPED')),
    credentials: CREDENTIALS,
    expected: { ...DOCUMENTED_REPORT, status: 'rejected', providerStatus: 'SKIPPED' },
  },
  {
    label: 'signed with our secret',
    callback: dsnCallback(DOCUMENTED_DSN, gatewayApiSignature({ ...DOCUMENTED_DSN, callback_url: DLR_URL, api: 4 }, 'secret')),
    credentials: SIGNED,
    expected: DOCUMENTED_REPORT,
  },
  { label: 'webhook secret set, no X-Gwapi-Signature', callback: dsnCallback(DOCUMENTED_DSN), credentials: SIGNED, expected: DeliveryReportAuthError },
  {
    label: 'signed with another secret',
    callback: dsnCallback(SAMPLE_BODY, SAMPLE_TOKEN),
    credentials: { ...CREDENTIALS, webhookSecret: 'not-secret' },
    expected: DeliveryReportAuthError,
  },
  {
    label: 'a valid token replayed over another DSN',
    callback: dsnCallback({ ...SAMPLE_BODY, status: 'REJECTED' }, SAMPLE_TOKEN),
    credentials: SIGNED,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'alg none, unsigned',
    callback: dsnCallback(SAMPLE_BODY, `${ALG_NONE_HEADER}.${SAMPLE_PAYLOAD}.`),
    credentials: SIGNED,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'header claims HS512: only HS256 is accepted, whatever the signature',
    callback: dsnCallback(SAMPLE_BODY, tokenClaimingAlg('HS512')),
    credentials: SIGNED,
    expected: DeliveryReportAuthError,
  },
  { label: 'not a JWT', callback: dsnCallback(SAMPLE_BODY, `${HEADER}.only-two`), credentials: SIGNED, expected: DeliveryReportAuthError },
  {
    label: 'exp and iat current, within the clock skew',
    callback: dsnCallback(DOCUMENTED_DSN, signedAt({ iat: nowSeconds() + 30, exp: nowSeconds() - 30 })),
    credentials: SIGNED,
    expected: DOCUMENTED_REPORT,
  },
  {
    label: 'expired token: exp past by more than the clock skew',
    callback: dsnCallback(DOCUMENTED_DSN, signedAt({ iat: nowSeconds() - 600, exp: nowSeconds() - 300 })),
    credentials: SIGNED,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'token issued in the future beyond the clock skew',
    callback: dsnCallback(DOCUMENTED_DSN, signedAt({ iat: nowSeconds() + 300 })),
    credentials: SIGNED,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'exp that is not a number',
    callback: dsnCallback(DOCUMENTED_DSN, signedAt({ exp: 'never' })),
    credentials: SIGNED,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'body that is not JSON',
    callback: { method: 'POST', url: DLR_URL, headers: { 'content-type': 'application/json' }, rawBody: '{"id":' },
    credentials: CREDENTIALS,
    expected: DeliveryReportFormatError,
  },
  { label: 'no id', callback: dsnCallback({ ...DOCUMENTED_DSN, id: undefined }), credentials: CREDENTIALS, expected: DeliveryReportFormatError },
  { label: 'unknown status', callback: dsnCallback(withStatus('delivered')), credentials: CREDENTIALS, expected: DeliveryReportFormatError },
];

for (const { label, callback, credentials, expected } of dlrCases) {
  test(`gatewayapi DLR: ${label}`, () => {
    if (typeof expected === 'function') {
      assert.throws(() => gatewayApiAdapter.parseDeliveryReport(callback, credentials), expected);
      return;
    }
    // JSON, as the report is stored and signalled: fields left undefined are absent.
    assert.deepEqual(JSON.parse(JSON.stringify(gatewayApiAdapter.parseDeliveryReport(callback, credentials))), [expected]);
  });
}

test('gatewayapi signature: the JWT built from the documented payload is the documented token', () => {
  assert.equal(gatewayApiSignature(SIGNED_SAMPLE, 'secret'), SAMPLE_TOKEN);
});

const ROUND_TRIPS: readonly { outcome: SimulatedOutcome | 'enroute'; status: DeliveryReportStatus }[] = [
  { outcome: 'enroute', status: 'enroute' },
  { outcome: 'delivered', status: 'delivered' },
  { outcome: 'undelivered', status: 'undelivered' },
  { outcome: 'expired', status: 'expired' },
  { outcome: 'rejected', status: 'rejected' },
];

for (const credentials of [CREDENTIALS, SIGNED]) {
  for (const { outcome, status } of ROUND_TRIPS) {
    test(`gatewayapi round trip (${credentials.webhookSecret ? 'signed' : 'unsigned'}): simulated ${outcome} comes back ${status}`, () => {
      const built = gatewayApiAdapter.buildSubmitRequest({ ...DOCUMENTED_SMS, deliveryReportUrl: DLR_URL }, credentials);
      const request = { method: built.method, path: built.path, headers: built.headers, rawBody: built.body ?? '' };
      assert.ok(gatewayApiDialect.isSubmit(request));
      const submit = gatewayApiDialect.parseSubmit(request);
      assert.ok(submit?.callbackUrl);
      // Two parts, one id: GatewayAPI names message objects, not SMS parts.
      assert.deepEqual(gatewayApiAdapter.classifySubmitResponse(gatewayApiDialect.acceptedResponse(submit, ['421332671', '421332672'])), {
        kind: 'accepted',
        providerMessageIds: ['421332671'],
      });
      const sent = gatewayApiDialect.deliveryReport(submit, '421332671', outcome, submit.callbackUrl, credentials);
      const [report] = gatewayApiAdapter.parseDeliveryReport(
        { method: sent.method, url: sent.url, headers: sent.headers, rawBody: sent.body ?? '' },
        credentials,
      );
      assert.equal(report?.status, status);
      assert.equal(report?.messageId, DOCUMENTED_SMS.messageId);
      assert.equal(report?.providerMessageId, '421332671');
    });
  }
}

const SIMULATED_FAILURES: readonly { failure: SimulatedFailure; expected: SubmitOutcome }[] = [
  {
    failure: 'throttled',
    expected: { kind: 'transient', code: 'gatewayapi:0x0209', reason: 'Resource temporarily unavailable', retryAfterMs: 30_000 },
  },
  { failure: 'server_error', expected: { kind: 'transient', code: 'gatewayapi:0x0201', reason: 'Unknown error' } },
  { failure: 'invalid_number', expected: { kind: 'permanent', code: 'gatewayapi:0x0308', reason: 'Invalid Argument: recipients.0.msisdn' } },
  { failure: 'auth', expected: { kind: 'permanent', code: 'gatewayapi:0x0210', reason: 'Invalid username: (token)' } },
];

for (const { failure, expected } of SIMULATED_FAILURES) {
  test(`gatewayapi round trip: simulated ${failure} classifies ${expected.kind}`, () => {
    assert.deepEqual(gatewayApiAdapter.classifySubmitResponse(gatewayApiDialect.failureResponse(failure, 30)), expected);
  });
}

describe('gatewayapi adapter: hostile DSNs', () => {
  const dsn = (fields: Record<string, unknown>) => dsnCallback({ ...DOCUMENTED_DSN, ...fields });
  refusesHostileCallbacks('gatewayapi', (callback) => gatewayApiAdapter.parseDeliveryReport(callback, CREDENTIALS), [
    { label: 'a 100,000-character userref', callback: dsn({ userref: HUGE }) },
    { label: 'a userref that is not one of our ids', callback: dsn({ userref: NOT_OUR_ID }) },
    { label: 'an object as userref', callback: dsn({ userref: { id: 1 } }) },
    { label: 'a 100,000-character id', callback: dsn({ id: HUGE }) },
    { label: 'an array as id', callback: dsn({ id: [1000001] }) },
    { label: 'an id with a NUL byte', callback: dsn({ id: WITH_NUL }) },
    { label: 'a 100,000-character status', callback: dsn({ status: HUGE }) },
    { label: 'a 10,000-character error text', callback: dsn({ status: 'UNDELIVERABLE', code: '0x1010', error: LONG_REASON }) },
    { label: 'an object as error code', callback: dsn({ status: 'UNDELIVERABLE', code: { code: 1 } }) },
  ]);
});
