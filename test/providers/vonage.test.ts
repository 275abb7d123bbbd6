import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveryReportStatus } from '../../src/domain/status';
import { CredentialsError } from '../../src/providers/credentials';
import { AmbiguousSubmitError, DeliveryReportAuthError, DeliveryReportFormatError } from '../../src/providers/errors';
import type { Credentials, DeliveryReport, HttpRequest, HttpResponse, InboundCallback, OutboundSms, SubmitOutcome } from '../../src/providers/types';
import { type VonageSignatureMethod, vonageAdapter, vonageSignature, vonageSignatureMethod } from '../../src/providers/vonage';
import type { SimulatedFailure, SimulatedOutcome, SimulatorRequest } from '../../src/simulator/dialects/types';
import { vonageDialect } from '../../src/simulator/dialects/vonage';
import { HUGE, NOT_OUR_ID, WITH_NUL, refusesHostileCallbacks } from './hostile';

// Contract table for Vonage SMS API, from PROVIDERS.md §1 (Vonage's own docs and SDK fixtures).

const CREDENTIALS: Credentials = { apiKey: 'abcd1234', apiSecret: 'abcdef0123456789' };
const SIGNATURE_SECRET = 'my_secret_key_for_testing';
const MD5_HASH_SIGNED: Credentials = { ...CREDENTIALS, signatureSecret: SIGNATURE_SECRET };
const SHA256_SIGNED: Credentials = { ...MD5_HASH_SIGNED, signatureMethod: 'sha256' };

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json',
  authorization: 'Basic YWJjZDEyMzQ6YWJjZGVmMDEyMzQ1Njc4OQ==',
};

/** The documented form example, as the SDK's JSON. */
const DOCUMENTED_SMS: OutboundSms = {
  messageId: '3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b',
  to: '+447700900000',
  from: 'AcmeInc',
  body: 'Hello World!',
  encoding: 'ucs2',
  deliveryReportUrl: 'https://example.com/sms-dlr',
  validitySeconds: 900,
};

const requestCases: readonly { label: string; sms: OutboundSms; expected: HttpRequest }[] = [
  {
    label: 'documented example: unicode, client-ref, callback, ttl in ms',
    sms: DOCUMENTED_SMS,
    expected: {
      method: 'POST',
      path: '/sms/json',
      headers: HEADERS,
      body: '{"from":"AcmeInc","to":"447700900000","text":"Hello World!","type":"unicode","client-ref":"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b","callback":"https://example.com/sms-dlr","ttl":900000}',
    },
  },
  {
    label: 'GSM-7 without validity: type text, no ttl',
    sms: { ...DOCUMENTED_SMS, encoding: 'gsm7', validitySeconds: undefined },
    expected: {
      method: 'POST',
      path: '/sms/json',
      headers: HEADERS,
      body: '{"from":"AcmeInc","to":"447700900000","text":"Hello World!","type":"text","client-ref":"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b","callback":"https://example.com/sms-dlr"}',
    },
  },
  {
    label: 'validity under 20 s: ttl clamped to 20000',
    sms: { ...DOCUMENTED_SMS, validitySeconds: 5 },
    expected: {
      method: 'POST',
      path: '/sms/json',
      headers: HEADERS,
      body: '{"from":"AcmeInc","to":"447700900000","text":"Hello World!","type":"unicode","client-ref":"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b","callback":"https://example.com/sms-dlr","ttl":20000}',
    },
  },
  {
    label: 'validity over 7 days: ttl clamped to 604800000',
    sms: { ...DOCUMENTED_SMS, validitySeconds: 30 * 86_400 },
    expected: {
      method: 'POST',
      path: '/sms/json',
      headers: HEADERS,
      body: '{"from":"AcmeInc","to":"447700900000","text":"Hello World!","type":"unicode","client-ref":"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b","callback":"https://example.com/sms-dlr","ttl":604800000}',
    },
  },
];

for (const { label, sms, expected } of requestCases) {
  test(`vonage request: ${label}`, () => {
    assert.deepEqual(vonageAdapter.buildSubmitRequest(sms, CREDENTIALS), expected);
  });
}

test('vonage request: missing apiSecret is a credentials error', () => {
  assert.throws(() => vonageAdapter.buildSubmitRequest(DOCUMENTED_SMS, { apiKey: 'abcd1234' }), CredentialsError);
});

function answer(body: string, statusCode = 200, headers: HttpResponse['headers'] = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body };
}

function failedPart(status: string, errorText: string): HttpResponse {
  return answer(JSON.stringify({ 'message-count': '1', messages: [{ status, 'error-text': errorText }] }));
}

const responseCases: readonly { label: string; response: HttpResponse; expected: SubmitOutcome | typeof AmbiguousSubmitError }[] = [
  {
    label: 'documented success',
    response: answer(
      '{"message-count":"1","messages":[{"to":"447700900000","message-id":"0C000000217B7F02","status":"0","remaining-balance":"15.53590000","message-price":"0.03330000","network":"23410"}]}',
    ),
    expected: { kind: 'accepted', providerMessageIds: ['0C000000217B7F02'] },
  },
  {
    label: 'long text: one message-id per part, with client-ref echoed',
    response: answer(
      '{"message-count":"2","messages":[{"to":"447700900000","message-id":"0C000000217B7F02","status":"0","client-ref":"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b"},{"to":"447700900000","message-id":"0C000000217B7F03","status":"0","client-ref":"3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b"}]}',
    ),
    expected: { kind: 'accepted', providerMessageIds: ['0C000000217B7F02', '0C000000217B7F03'] },
  },
  {
    label: 'message-count as a number, as in the SDK fixtures',
    response: answer('{"message-count":1,"messages":[{"to":"447700900000","message-id":"0C000000217B7F02","status":"0"}]}'),
    expected: { kind: 'accepted', providerMessageIds: ['0C000000217B7F02'] },
  },
  {
    label: 'documented error: 2 missing params',
    response: answer('{"message-count":"1","messages":[{"status":"2","error-text":"Missing to param"}]}'),
    expected: { kind: 'permanent', code: 'vonage:2', reason: 'Missing to param' },
  },
  {
    label: 'throttled: 1, HTTP 200 and no Retry-After',
    response: failedPart('1', 'Throughput Rate Exceeded - please wait [ 1000 ] and retry'),
    expected: { kind: 'transient', code: 'vonage:1', reason: 'Throughput Rate Exceeded - please wait [ 1000 ] and retry' },
  },
  {
    label: 'throttled with a Retry-After in seconds',
    response: answer('{"message-count":"1","messages":[{"status":"1"}]}', 200, { 'retry-after': '2' }),
    expected: { kind: 'transient', code: 'vonage:1', reason: 'throttled', retryAfterMs: 2000 },
  },
  {
    label: 'throttled: 10 too many binds',
    response: answer('{"message-count":"1","messages":[{"status":"10"}]}'),
    expected: { kind: 'transient', code: 'vonage:10', reason: 'too many existing binds' },
  },
  {
    label: 'retryable: 5 internal error',
    response: failedPart('5', 'Internal Error'),
    expected: { kind: 'transient', code: 'vonage:5', reason: 'Internal Error' },
  },
  {
    label: 'bad credentials: 4',
    response: failedPart('4', 'Bad Credentials'),
    expected: { kind: 'permanent', code: 'vonage:4', reason: 'Bad Credentials' },
  },
  {
    label: 'invalid number: 6 unrecognised prefix',
    response: answer('{"message-count":"1","messages":[{"status":"6"}]}'),
    expected: { kind: 'permanent', code: 'vonage:6', reason: 'invalid message: unrecognised number prefix' },
  },
  {
    label: 'invalid number: 33 de-activated',
    response: answer('{"message-count":"1","messages":[{"status":"33"}]}'),
    expected: { kind: 'permanent', code: 'vonage:33', reason: 'number de-activated' },
  },
  {
    label: 'insufficient balance: 9',
    response: answer('{"message-count":"1","messages":[{"status":"9"}]}'),
    expected: { kind: 'permanent', code: 'vonage:9', reason: 'insufficient balance' },
  },
  {
    label: 'too long: 12',
    response: answer('{"message-count":"1","messages":[{"status":"12"}]}'),
    expected: { kind: 'permanent', code: 'vonage:12', reason: 'message too long' },
  },
  {
    label: 'invalid sender: 15',
    response: answer('{"message-count":"1","messages":[{"status":"15"}]}'),
    expected: { kind: 'permanent', code: 'vonage:15', reason: 'invalid sender address' },
  },
  {
    label: 'a status missing from the table is permanent',
    response: answer('{"message-count":"1","messages":[{"status":"42"}]}'),
    expected: { kind: 'permanent', code: 'vonage:42', reason: 'status 42' },
  },
  {
    label: 'HTTP 503 from the edge, Retry-After as a past HTTP date',
    response: answer('<html>Service Unavailable</html>', 503, { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }),
    expected: { kind: 'transient', code: 'vonage:http_503', reason: 'HTTP 503', retryAfterMs: 0 },
  },
  {
    label: 'HTTP 401 from the edge',
    response: answer('{"title":"Unauthorized"}', 401),
    expected: { kind: 'permanent', code: 'vonage:http_401', reason: 'HTTP 401' },
  },
  { label: '200 with a body that is not JSON', response: answer('<html>OK</html>'), expected: AmbiguousSubmitError },
  {
    label: '200 whose message-count disagrees with its messages',
    response: answer('{"message-count":"2","messages":[{"message-id":"0C000000217B7F02","status":"0"}]}'),
    expected: AmbiguousSubmitError,
  },
  {
    label: '200 where some parts went out and some did not',
    response: answer('{"message-count":"2","messages":[{"message-id":"0C000000217B7F02","status":"0"},{"status":"1"}]}'),
    expected: AmbiguousSubmitError,
  },
  {
    label: '200 accepting a part without a message-id',
    response: answer('{"message-count":"1","messages":[{"status":"0"}]}'),
    expected: AmbiguousSubmitError,
  },
];

for (const { label, response, expected } of responseCases) {
  test(`vonage response: ${label}`, () => {
    if (typeof expected === 'function') {
      assert.throws(() => vonageAdapter.classifySubmitResponse(response), AmbiguousSubmitError);
    } else {
      assert.deepEqual(vonageAdapter.classifySubmitResponse(response), expected);
    }
  });
}

const DLR_URL = 'https://router.example/v1/dlr/vonage';

/** The documented JSON receipt. */
const DOCUMENTED_RECEIPT: Readonly<Record<string, string>> = {
  'err-code': '0',
  'message-timestamp': '2018-10-25 12:10:29',
  messageId: '0B00000127FDBC63',
  msisdn: '447547232824',
  'network-code': '23410',
  price: '0.03330000',
  scts: '1810251310',
  status: 'delivered',
  to: 'Nexmo CLI',
};

const DOCUMENTED_REPORT: DeliveryReport = {
  providerMessageId: '0B00000127FDBC63',
  status: 'delivered',
  providerStatus: 'delivered',
  occurredAt: '2018-10-25T12:10:29.000Z',
};

function jsonReceipt(params: Readonly<Record<string, string>>): InboundCallback {
  return { method: 'POST', url: DLR_URL, headers: { 'content-type': 'application/json' }, rawBody: JSON.stringify(params) };
}

function formReceipt(params: Readonly<Record<string, string>>): InboundCallback {
  return {
    method: 'POST',
    url: DLR_URL,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    rawBody: new URLSearchParams(params).toString(),
  };
}

/** Signed as Vonage signs: `timestamp` and `nonce` join the parameters, `sig` covers them all. */
function signed(params: Readonly<Record<string, string>>, method: VonageSignatureMethod, signedAtMs = Date.now()): Record<string, string> {
  const withStamp = { ...params, timestamp: String(Math.floor(signedAtMs / 1000)), nonce: 'aa7b4b8e-2c86-4c44-b1b6-5b0a8e8a6a63' };
  return { ...withStamp, sig: vonageSignature(withStamp, SIGNATURE_SECRET, method) };
}

const SHA256_RECEIPT = signed(DOCUMENTED_RECEIPT, 'sha256');

const FAILED_RECEIPT = { ...DOCUMENTED_RECEIPT, status: 'failed', 'err-code': '8', 'client-ref': '3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b', 'api-key': 'abcd1234' };

type ExpectedReport = Omit<DeliveryReport, 'occurredAt'> & { readonly occurredAt?: string };

const dlrCases: readonly {
  label: string;
  callback: InboundCallback;
  credentials: Credentials;
  expected: ExpectedReport | typeof DeliveryReportAuthError | typeof DeliveryReportFormatError;
}[] = [
  { label: 'documented receipt, JSON POST', callback: jsonReceipt(DOCUMENTED_RECEIPT), credentials: CREDENTIALS, expected: DOCUMENTED_REPORT },
  {
    label: 'documented receipt, GET query string',
    callback: { method: 'GET', url: `${DLR_URL}?${new URLSearchParams(DOCUMENTED_RECEIPT).toString()}`, headers: {}, rawBody: '' },
    credentials: CREDENTIALS,
    expected: DOCUMENTED_REPORT,
  },
  {
    label: 'signed GET to our tokened URL: our token is not one of the fields Vonage signs',
    callback: {
      method: 'GET',
      url: `${DLR_URL}?token=our-webhook-token&${new URLSearchParams(signed(DOCUMENTED_RECEIPT, 'sha256')).toString()}`,
      headers: {},
      rawBody: '',
    },
    credentials: { ...CREDENTIALS, signatureSecret: SIGNATURE_SECRET, signatureMethod: 'sha256' },
    expected: DOCUMENTED_REPORT,
  },
  {
    label: 'form POST: failed with err-code 8 network error, client-ref echoed',
    callback: formReceipt(FAILED_RECEIPT),
    credentials: CREDENTIALS,
    expected: {
      messageId: '3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b',
      providerMessageId: '0B00000127FDBC63',
      status: 'undelivered',
      providerStatus: 'failed',
      errorCode: 'vonage:dlr:8',
      errorReason: 'network error',
      retryableOnOtherRoute: true,
      occurredAt: '2018-10-25T12:10:29.000Z',
    },
  },
  {
    label: 'intermediate: accepted',
    callback: jsonReceipt({ ...DOCUMENTED_RECEIPT, status: 'accepted' }),
    credentials: CREDENTIALS,
    expected: { ...DOCUMENTED_REPORT, status: 'enroute', providerStatus: 'accepted' },
  },
  {
    label: 'intermediate: buffered',
    callback: jsonReceipt({ ...DOCUMENTED_RECEIPT, status: 'buffered' }),
    credentials: CREDENTIALS,
    expected: { ...DOCUMENTED_REPORT, status: 'buffered', providerStatus: 'buffered' },
  },
  {
    label: 'expired with err-code 2 absent subscriber: not for another route',
    callback: jsonReceipt({ ...DOCUMENTED_RECEIPT, status: 'expired', 'err-code': '2' }),
    credentials: CREDENTIALS,
    expected: {
      ...DOCUMENTED_REPORT,
      status: 'expired',
      providerStatus: 'expired',
      errorCode: 'vonage:dlr:2',
      errorReason: 'absent subscriber (temporary)',
      retryableOnOtherRoute: false,
    },
  },
  {
    label: 'rejected with err-code 6 anti-spam',
    callback: jsonReceipt({ ...DOCUMENTED_RECEIPT, status: 'rejected', 'err-code': '6' }),
    credentials: CREDENTIALS,
    expected: {
      ...DOCUMENTED_REPORT,
      status: 'rejected',
      providerStatus: 'rejected',
      errorCode: 'vonage:dlr:6',
      errorReason: 'anti-spam rejection',
      retryableOnOtherRoute: false,
    },
  },
  {
    label: 'unknown with err-code 1',
    callback: jsonReceipt({ ...DOCUMENTED_RECEIPT, status: 'unknown', 'err-code': '1' }),
    credentials: CREDENTIALS,
    expected: {
      ...DOCUMENTED_REPORT,
      status: 'unknown',
      providerStatus: 'unknown',
      errorCode: 'vonage:dlr:1',
      errorReason: 'unknown',
      retryableOnOtherRoute: false,
    },
  },
  {
    label: 'unsigned receipt for another api-key',
    callback: formReceipt({ ...FAILED_RECEIPT, 'api-key': 'someone-else' }),
    credentials: CREDENTIALS,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'signed, MD5 hash (the default mode)',
    callback: jsonReceipt(signed(DOCUMENTED_RECEIPT, 'md5hash')),
    credentials: MD5_HASH_SIGNED,
    expected: DOCUMENTED_REPORT,
  },
  {
    label: 'signed, SHA-256 HMAC, sig in upper case as in the SDK test vector',
    callback: formReceipt({ ...SHA256_RECEIPT, sig: SHA256_RECEIPT.sig.toUpperCase() }),
    credentials: SHA256_SIGNED,
    expected: DOCUMENTED_REPORT,
  },
  {
    label: 'signing on, receipt without sig',
    callback: jsonReceipt(DOCUMENTED_RECEIPT),
    credentials: MD5_HASH_SIGNED,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'signed, then its status altered',
    callback: jsonReceipt({ ...signed(DOCUMENTED_RECEIPT, 'md5hash'), status: 'failed' }),
    credentials: MD5_HASH_SIGNED,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'signed with another mode than the account uses',
    callback: jsonReceipt(signed(DOCUMENTED_RECEIPT, 'md5hash')),
    credentials: SHA256_SIGNED,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'signed an hour ago: a replay',
    callback: jsonReceipt(signed(DOCUMENTED_RECEIPT, 'md5hash', Date.now() - 3_600_000)),
    credentials: MD5_HASH_SIGNED,
    expected: DeliveryReportAuthError,
  },
  {
    label: 'JSON POST whose body is not JSON',
    callback: { method: 'POST', url: DLR_URL, headers: { 'content-type': 'application/json' }, rawBody: '{"messageId":' },
    credentials: CREDENTIALS,
    expected: DeliveryReportFormatError,
  },
  {
    label: 'no messageId',
    callback: jsonReceipt({ status: 'delivered', 'err-code': '0' }),
    credentials: CREDENTIALS,
    expected: DeliveryReportFormatError,
  },
  {
    label: 'unknown status word',
    callback: jsonReceipt({ ...DOCUMENTED_RECEIPT, status: 'sent' }),
    credentials: CREDENTIALS,
    expected: DeliveryReportFormatError,
  },
  {
    label: 'a field that is not a scalar',
    callback: { method: 'POST', url: DLR_URL, headers: { 'content-type': 'application/json' }, rawBody: '{"messageId":"1","status":"delivered","price":{"eur":1}}' },
    credentials: CREDENTIALS,
    expected: DeliveryReportFormatError,
  },
];

for (const { label, callback, credentials, expected } of dlrCases) {
  test(`vonage DLR: ${label}`, () => {
    if (typeof expected === 'function') {
      assert.throws(() => vonageAdapter.parseDeliveryReport(callback, credentials), expected);
      return;
    }
    const receivedFrom = Date.now();
    const reports = vonageAdapter.parseDeliveryReport(callback, credentials);
    assert.equal(reports.length, 1);
    // JSON, as the report is stored and signalled: fields left undefined are absent.
    const { occurredAt, ...report } = JSON.parse(JSON.stringify(reports[0])) as DeliveryReport;
    const { occurredAt: expectedOccurredAt, ...expectedReport } = expected;
    assert.deepEqual(report, expectedReport);
    if (expectedOccurredAt) assert.equal(occurredAt, expectedOccurredAt);
    else assert.ok(Date.parse(occurredAt) >= receivedFrom - 1000, 'no provider time: stamped on receipt');
  });
}

const SDK_VECTOR: Readonly<Record<string, string>> = {
  'message-timestamp': '2013-11-21 15:27:30',
  messageId: '020000001B0FE827',
  msisdn: '14843472194',
  text: 'Test again',
  timestamp: '1385047698',
  to: '13239877404',
  type: 'text',
};

test('vonage signature: SDK test vector, MD5 hash', () => {
  assert.equal(vonageSignature(SDK_VECTOR, SIGNATURE_SECRET, 'md5hash'), 'd2e7b1dc968737c5998ad624e02f90b7');
});

test('vonage signature: SDK test vector, SHA-256 HMAC', () => {
  assert.equal(
    vonageSignature(SDK_VECTOR, SIGNATURE_SECRET, 'sha256').toUpperCase(),
    'DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330',
  );
});

test('vonage signature: & and = in values are signed as _', () => {
  assert.equal(
    vonageSignature({ text: 'a&b=c' }, SIGNATURE_SECRET, 'md5hash'),
    vonageSignature({ text: 'a_b_c' }, SIGNATURE_SECRET, 'md5hash'),
  );
});

test('vonage signature: an unknown signatureMethod is a credentials error', () => {
  assert.throws(() => vonageSignatureMethod({ ...MD5_HASH_SIGNED, signatureMethod: 'sha3' }), CredentialsError);
});

const ROUND_TRIPS: readonly { outcome: SimulatedOutcome | 'enroute'; status: DeliveryReportStatus }[] = [
  { outcome: 'enroute', status: 'enroute' },
  { outcome: 'delivered', status: 'delivered' },
  { outcome: 'undelivered', status: 'undelivered' },
  { outcome: 'expired', status: 'expired' },
  { outcome: 'rejected', status: 'rejected' },
];

const ROUND_TRIP_CREDENTIALS: readonly { label: string; credentials: Credentials }[] = [
  { label: 'unsigned', credentials: CREDENTIALS },
  { label: 'MD5 hash signed', credentials: MD5_HASH_SIGNED },
  { label: 'SHA-512 HMAC signed', credentials: { ...MD5_HASH_SIGNED, signatureMethod: 'sha512' } },
];

function asSimulatorRequest(request: HttpRequest): SimulatorRequest {
  return { method: request.method, path: request.path, headers: request.headers, rawBody: request.body ?? '' };
}

for (const { label, credentials } of ROUND_TRIP_CREDENTIALS) {
  for (const { outcome, status } of ROUND_TRIPS) {
    test(`vonage round trip (${label}): simulated ${outcome} comes back ${status}`, () => {
      const request = asSimulatorRequest(vonageAdapter.buildSubmitRequest({ ...DOCUMENTED_SMS, deliveryReportUrl: DLR_URL }, credentials));
      assert.ok(vonageDialect.isSubmit(request));
      const submit = vonageDialect.parseSubmit(request);
      assert.ok(submit?.callbackUrl);
      assert.deepEqual(vonageAdapter.classifySubmitResponse(vonageDialect.acceptedResponse(submit, ['part-1', 'part-2'])), {
        kind: 'accepted',
        providerMessageIds: ['part-1', 'part-2'],
      });
      const sent = vonageDialect.deliveryReport(submit, 'part-2', outcome, submit.callbackUrl, credentials);
      const [report] = vonageAdapter.parseDeliveryReport(
        { method: sent.method, url: sent.url, headers: sent.headers, rawBody: sent.body ?? '' },
        credentials,
      );
      assert.equal(report?.status, status);
      assert.equal(report?.messageId, DOCUMENTED_SMS.messageId);
      assert.equal(report?.providerMessageId, 'part-2');
    });
  }
}

const SIMULATED_FAILURES: readonly { failure: SimulatedFailure; expected: SubmitOutcome }[] = [
  { failure: 'throttled', expected: { kind: 'transient', code: 'vonage:1', reason: 'Throughput Rate Exceeded - please wait [ 1000 ] and retry' } },
  { failure: 'server_error', expected: { kind: 'transient', code: 'vonage:5', reason: 'Internal Error' } },
  { failure: 'invalid_number', expected: { kind: 'permanent', code: 'vonage:6', reason: 'Unroutable message - rejected' } },
  { failure: 'auth', expected: { kind: 'permanent', code: 'vonage:4', reason: 'Bad Credentials' } },
];

for (const { failure, expected } of SIMULATED_FAILURES) {
  test(`vonage round trip: simulated ${failure} classifies ${expected.kind}`, () => {
    assert.deepEqual(vonageAdapter.classifySubmitResponse(vonageDialect.failureResponse(failure, 30)), expected);
  });
}

describe('vonage adapter: hostile delivery receipts', () => {
  const parse = (callback: InboundCallback) => vonageAdapter.parseDeliveryReport(callback, CREDENTIALS);
  refusesHostileCallbacks('vonage', parse, [
    { label: 'a 100,000-character client-ref (form)', callback: formReceipt({ ...DOCUMENTED_RECEIPT, 'client-ref': HUGE }) },
    { label: 'a client-ref that is not one of our ids (JSON)', callback: jsonReceipt({ ...DOCUMENTED_RECEIPT, 'client-ref': NOT_OUR_ID }) },
    { label: 'a 100,000-character messageId', callback: jsonReceipt({ ...DOCUMENTED_RECEIPT, messageId: HUGE }) },
    { label: 'a messageId with a NUL byte', callback: formReceipt({ ...DOCUMENTED_RECEIPT, messageId: WITH_NUL }) },
    { label: 'a 100,000-character status', callback: formReceipt({ ...DOCUMENTED_RECEIPT, status: HUGE }) },
    { label: 'a 100,000-character err-code', callback: formReceipt({ ...DOCUMENTED_RECEIPT, status: 'failed', 'err-code': HUGE }) },
    {
      label: 'an object as messageId (JSON)',
      callback: { ...jsonReceipt(DOCUMENTED_RECEIPT), rawBody: JSON.stringify({ ...DOCUMENTED_RECEIPT, messageId: { id: 1 } }) },
    },
    {
      label: 'a 100,000-character field name (JSON)',
      callback: { ...jsonReceipt(DOCUMENTED_RECEIPT), rawBody: JSON.stringify({ ...DOCUMENTED_RECEIPT, [HUGE]: [] }) },
    },
  ]);
});
