import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveryReportStatus } from '../../src/domain/status';
import { CredentialsError } from '../../src/providers/credentials';
import { AmbiguousSubmitError, DeliveryReportAuthError, DeliveryReportFormatError } from '../../src/providers/errors';
import { twilioAdapter, twilioSignature } from '../../src/providers/twilio';
import type { Credentials, DeliveryReport, HttpRequest, HttpResponse, InboundCallback, OutboundSms, SubmitOutcome } from '../../src/providers/types';
import { twilioDialect } from '../../src/simulator/dialects/twilio';
import type { SimulatedFailure, SimulatedOutcome } from '../../src/simulator/dialects/types';
import { HUGE, NOT_OUR_ID, WITH_NUL, refusesHostileCallbacks } from './hostile';

// Contract table for Twilio Messages, from PROVIDERS.md §2 (Twilio's docs, OpenAPI spec and twilio-node).

const ACCOUNT_SID = 'ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const CREDENTIALS: Credentials = { accountSid: ACCOUNT_SID, authToken: 'your_auth_token' };

const REQUEST_BASE = {
  method: 'POST',
  path: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`,
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
    authorization: 'Basic QUNhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYTp5b3VyX2F1dGhfdG9rZW4=',
  },
} as const;

const DOCUMENTED_SMS: OutboundSms = {
  messageId: '3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b',
  to: '+15558675310',
  from: '+15017122661',
  body: 'Hello',
  encoding: 'gsm7',
  deliveryReportUrl: 'https://example.com/tw/status',
  validitySeconds: 600,
};

const requestCases: readonly { label: string; sms: OutboundSms; expected: HttpRequest }[] = [
  {
    label: 'documented example: form body, our reference in the StatusCallback query',
    sms: DOCUMENTED_SMS,
    expected: {
      ...REQUEST_BASE,
      body: 'To=%2B15558675310&From=%2B15017122661&Body=Hello&StatusCallback=https%3A%2F%2Fexample.com%2Ftw%2Fstatus%3Fref%3D3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b&ValidityPeriod=600',
    },
  },
  {
    label: 'UCS-2 adds no field (Twilio picks the encoding); no validity, no ValidityPeriod',
    sms: { ...DOCUMENTED_SMS, encoding: 'ucs2', validitySeconds: undefined },
    expected: {
      ...REQUEST_BASE,
      body: 'To=%2B15558675310&From=%2B15017122661&Body=Hello&StatusCallback=https%3A%2F%2Fexample.com%2Ftw%2Fstatus%3Fref%3D3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b',
    },
  },
  {
    label: 'a DLR URL with its own query keeps it and adds ref',
    sms: { ...DOCUMENTED_SMS, deliveryReportUrl: 'https://example.com/tw/status?tenant=7' },
    expected: {
      ...REQUEST_BASE,
      body: 'To=%2B15558675310&From=%2B15017122661&Body=Hello&StatusCallback=https%3A%2F%2Fexample.com%2Ftw%2Fstatus%3Ftenant%3D7%26ref%3D3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b&ValidityPeriod=600',
    },
  },
  {
    label: 'validity 0 clamps to 1',
    sms: { ...DOCUMENTED_SMS, validitySeconds: 0 },
    expected: {
      ...REQUEST_BASE,
      body: 'To=%2B15558675310&From=%2B15017122661&Body=Hello&StatusCallback=https%3A%2F%2Fexample.com%2Ftw%2Fstatus%3Fref%3D3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b&ValidityPeriod=1',
    },
  },
  {
    label: 'validity of a day clamps to 36000',
    sms: { ...DOCUMENTED_SMS, validitySeconds: 86_400 },
    expected: {
      ...REQUEST_BASE,
      body: 'To=%2B15558675310&From=%2B15017122661&Body=Hello&StatusCallback=https%3A%2F%2Fexample.com%2Ftw%2Fstatus%3Fref%3D3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b&ValidityPeriod=36000',
    },
  },
];

for (const { label, sms, expected } of requestCases) {
  test(`twilio request: ${label}`, () => {
    assert.deepEqual(twilioAdapter.buildSubmitRequest(sms, CREDENTIALS), expected);
  });
}

test('twilio request: missing authToken is a credentials error', () => {
  assert.throws(() => twilioAdapter.buildSubmitRequest(DOCUMENTED_SMS, { accountSid: ACCOUNT_SID }), CredentialsError);
});

function answer(statusCode: number, body: string, headers: HttpResponse['headers'] = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body };
}

function twilioError(statusCode: number, code: number, message: string, headers: HttpResponse['headers'] = {}): HttpResponse {
  return answer(statusCode, JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status: statusCode }), headers);
}

const responseCases: readonly { label: string; response: HttpResponse; expected: SubmitOutcome | typeof AmbiguousSubmitError }[] = [
  {
    label: 'documented 201 Created',
    response: answer(
      201,
      '{"account_sid":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","api_version":"2010-04-01","body":"O Slash: Ø","direction":"outbound-api","error_code":null,"from":"+14155552345","messaging_service_sid":"MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","num_segments":"1","price":"-0.00750","price_unit":"USD","sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"sent","to":"+14155552345"}',
    ),
    expected: { kind: 'accepted', providerMessageIds: ['SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] },
  },
  {
    label: 'documented 400 / 21211 invalid number',
    response: answer(
      400,
      `{"code":21211,"message":"The 'To' number 5551234567 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`,
    ),
    expected: { kind: 'permanent', code: 'twilio:21211', reason: "The 'To' number 5551234567 is not a valid phone number." },
  },
  {
    // https://www.twilio.com/docs/api/errors/21610: the recipient replied STOP to this sender.
    label: 'documented 400 / 21610 unsubscribed recipient: permanent, and the recipient opted out',
    response: twilioError(400, 21610, 'Attempt to send to unsubscribed recipient'),
    expected: { kind: 'permanent', code: 'twilio:21610', reason: 'Attempt to send to unsubscribed recipient', recipientOptedOut: true },
  },
  {
    label: 'throttled: 429 / 20429 with Retry-After',
    response: twilioError(429, 20429, 'Too Many Requests', { 'retry-after': '3' }),
    expected: { kind: 'transient', code: 'twilio:20429', reason: 'Too Many Requests', retryAfterMs: 3000 },
  },
  {
    label: 'throttled: 429 / 20429 without Retry-After (the documented case)',
    response: twilioError(429, 20429, 'Too Many Requests'),
    expected: { kind: 'transient', code: 'twilio:20429', reason: 'Too Many Requests' },
  },
  {
    label: "throttled: 21611 'From' queue over 10 hours",
    response: twilioError(400, 21611, "This 'From' number has exceeded the maximum number of queued messages"),
    expected: { kind: 'transient', code: 'twilio:21611', reason: "This 'From' number has exceeded the maximum number of queued messages" },
  },
  {
    label: 'invalid number: 21614 not a mobile number',
    response: twilioError(400, 21614, "'To' number is not a valid mobile number"),
    expected: { kind: 'permanent', code: 'twilio:21614', reason: "'To' number is not a valid mobile number" },
  },
  {
    label: 'bad credentials: 401 / 20003',
    response: twilioError(401, 20003, 'Authenticate'),
    expected: { kind: 'permanent', code: 'twilio:20003', reason: 'Authenticate' },
  },
  {
    label: 'balance: 20005 account not active',
    response: twilioError(401, 20005, 'Account not active'),
    expected: { kind: 'permanent', code: 'twilio:20005', reason: 'Account not active' },
  },
  {
    label: 'too long: 21617',
    response: twilioError(400, 21617, 'The concatenated message body exceeds the 1600 character limit'),
    expected: { kind: 'permanent', code: 'twilio:21617', reason: 'The concatenated message body exceeds the 1600 character limit' },
  },
  {
    label: "invalid sender: 21212 'From' number",
    response: twilioError(400, 21212, "The 'From' number +15005550001 is not a valid phone number"),
    expected: { kind: 'permanent', code: 'twilio:21212', reason: "The 'From' number +15005550001 is not a valid phone number" },
  },
  {
    label: 'a 4xx code missing from the table is permanent',
    response: twilioError(400, 21999, 'Something new'),
    expected: { kind: 'permanent', code: 'twilio:21999', reason: 'Something new' },
  },
  {
    label: '500 with a Twilio error body',
    response: twilioError(500, 20500, 'Internal Server Error'),
    expected: { kind: 'transient', code: 'twilio:20500', reason: 'Internal Server Error' },
  },
  {
    label: '503 from a proxy, no JSON',
    response: answer(503, '<html>Service Unavailable</html>', { 'content-type': 'text/html' }),
    expected: { kind: 'transient', code: 'twilio:http_503', reason: 'HTTP 503' },
  },
  { label: '201 with a body that is not JSON', response: answer(201, 'Created'), expected: AmbiguousSubmitError },
  { label: '201 without a sid', response: answer(201, '{"status":"queued"}'), expected: AmbiguousSubmitError },
];

for (const { label, response, expected } of responseCases) {
  test(`twilio response: ${label}`, () => {
    if (typeof expected === 'function') {
      assert.throws(() => twilioAdapter.classifySubmitResponse(response), AmbiguousSubmitError);
    } else {
      assert.deepEqual(twilioAdapter.classifySubmitResponse(response), expected);
    }
  });
}

const DLR_URL = 'https://router.example/v1/dlr/twilio?ref=3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b';

/** The documented callback; the docs elide the sids, filled in here. */
const DOCUMENTED_CALLBACK: readonly [string, string][] = [
  ['SmsSid', 'SM1fc5bbbbbbbbbbbbbbbbbbbbbbbbbbbb'],
  ['SmsStatus', 'delivered'],
  ['MessageStatus', 'delivered'],
  ['To', '+8613314517617'],
  ['MessageSid', 'SM1fc5bbbbbbbbbbbbbbbbbbbbbbbbbbbb'],
  ['AccountSid', 'ACa499cccccccccccccccccccccccccccc'],
  ['From', '+14158779310'],
  ['ApiVersion', '2010-04-01'],
];

function withStatus(status: string, errorCode?: string): [string, string][] {
  const params = DOCUMENTED_CALLBACK.map(([name, value]): [string, string] => [name, name.endsWith('Status') ? status : value]);
  return errorCode === undefined ? params : [...params, ['ErrorCode', errorCode]];
}

/** As Twilio sends it: signed over `signedUrl`, received on `url`. */
function signedCallback(params: readonly [string, string][], url = DLR_URL, signedUrl = url, authToken = 'your_auth_token'): InboundCallback {
  return {
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(authToken, signedUrl, params) },
    rawBody: new URLSearchParams([...params]).toString(),
  };
}

const DELIVERED: Omit<DeliveryReport, 'occurredAt'> = {
  messageId: '3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b',
  providerMessageId: 'SM1fc5bbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  status: 'delivered',
  providerStatus: 'delivered',
};

const dlrCases: readonly {
  label: string;
  callback: InboundCallback;
  expected: Omit<DeliveryReport, 'occurredAt'> | typeof DeliveryReportAuthError | typeof DeliveryReportFormatError;
}[] = [
  { label: 'documented callback: delivered, our ref from the URL', callback: signedCallback(DOCUMENTED_CALLBACK), expected: DELIVERED },
  {
    label: 'sent: the carrier has it, no DLR yet',
    callback: signedCallback(withStatus('sent')),
    expected: { ...DELIVERED, status: 'enroute', providerStatus: 'sent' },
  },
  { label: 'read after delivered', callback: signedCallback(withStatus('read')), expected: { ...DELIVERED, providerStatus: 'read' } },
  {
    label: 'undelivered / 30003 unreachable handset: not for another route',
    callback: signedCallback(withStatus('undelivered', '30003')),
    expected: {
      ...DELIVERED,
      status: 'undelivered',
      providerStatus: 'undelivered',
      errorCode: 'twilio:30003',
      errorReason: 'unreachable destination handset',
      retryableOnOtherRoute: false,
    },
  },
  {
    label: 'failed / 30001 queue overflow: never left Twilio, another route may help',
    callback: signedCallback(withStatus('failed', '30001')),
    expected: {
      ...DELIVERED,
      status: 'rejected',
      providerStatus: 'failed',
      errorCode: 'twilio:30001',
      errorReason: 'queue overflow',
      retryableOnOtherRoute: true,
    },
  },
  {
    label: 'failed / 30036 validity period expired',
    callback: signedCallback(withStatus('failed', '30036')),
    expected: {
      ...DELIVERED,
      status: 'expired',
      providerStatus: 'failed',
      errorCode: 'twilio:30036',
      errorReason: 'validity period expired',
      retryableOnOtherRoute: false,
    },
  },
  {
    label: 'canceled before sending',
    callback: signedCallback(withStatus('canceled')),
    expected: { ...DELIVERED, status: 'rejected', providerStatus: 'canceled' },
  },
  {
    label: 'an ErrorCode missing from the table',
    callback: signedCallback(withStatus('undelivered', '30999')),
    expected: { ...DELIVERED, status: 'undelivered', providerStatus: 'undelivered', errorCode: 'twilio:30999', retryableOnOtherRoute: false },
  },
  {
    label: 'a StatusCallback without our ref',
    callback: signedCallback(DOCUMENTED_CALLBACK, 'https://router.example/v1/dlr/twilio'),
    expected: { ...DELIVERED, messageId: undefined },
  },
  {
    label: 'signed with :443, received without',
    callback: signedCallback(DOCUMENTED_CALLBACK, DLR_URL, 'https://router.example:443/v1/dlr/twilio?ref=3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b'),
    expected: DELIVERED,
  },
  {
    label: 'signed without :443, received with it',
    callback: signedCallback(DOCUMENTED_CALLBACK, 'https://router.example:443/v1/dlr/twilio?ref=3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b', DLR_URL),
    expected: DELIVERED,
  },
  {
    label: 'no X-Twilio-Signature',
    callback: { ...signedCallback(DOCUMENTED_CALLBACK), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    expected: DeliveryReportAuthError,
  },
  {
    label: 'signed with another auth token',
    callback: signedCallback(DOCUMENTED_CALLBACK, DLR_URL, DLR_URL, 'someone-elses-token'),
    expected: DeliveryReportAuthError,
  },
  {
    label: 'signed for another ref',
    callback: signedCallback(DOCUMENTED_CALLBACK, DLR_URL, 'https://router.example/v1/dlr/twilio?ref=3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6c'),
    expected: DeliveryReportAuthError,
  },
  {
    label: 'a parameter added after signing',
    callback: { ...signedCallback(DOCUMENTED_CALLBACK), rawBody: `${new URLSearchParams([...DOCUMENTED_CALLBACK]).toString()}&ErrorCode=30003` },
    expected: DeliveryReportAuthError,
  },
  { label: 'an inbound-message status', callback: signedCallback(withStatus('received')), expected: DeliveryReportFormatError },
  {
    label: 'no MessageSid',
    callback: signedCallback(DOCUMENTED_CALLBACK.filter(([name]) => !name.endsWith('Sid') || name === 'AccountSid')),
    expected: DeliveryReportFormatError,
  },
];

for (const { label, callback, expected } of dlrCases) {
  test(`twilio DLR: ${label}`, () => {
    if (typeof expected === 'function') {
      assert.throws(() => twilioAdapter.parseDeliveryReport(callback, CREDENTIALS), expected);
      return;
    }
    const receivedFrom = Date.now();
    const reports = twilioAdapter.parseDeliveryReport(callback, CREDENTIALS);
    assert.equal(reports.length, 1);
    // JSON, as the report is stored and signalled: fields left undefined are absent.
    const { occurredAt, ...report } = JSON.parse(JSON.stringify(reports[0])) as DeliveryReport;
    assert.deepEqual(report, JSON.parse(JSON.stringify(expected)));
    assert.ok(Date.parse(occurredAt) >= receivedFrom - 1000, 'Twilio gives no usable event time: stamped on receipt');
  });
}

const VECTOR_URL = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const VECTOR_PARAMS: readonly [string, string][] = [
  ['CallSid', 'CA1234567890ABCDE'],
  ['Caller', '+14158675309'],
  ['Digits', '1234'],
  ['From', '+14158675309'],
  ['To', '+18005551212'],
];

test('twilio signature: twilio-node test vector', () => {
  assert.equal(twilioSignature('12345', VECTOR_URL, VECTOR_PARAMS), 'RSOYDt4T1cUTdK1PDd93/VVr8B8=');
});

test('twilio signature: the vector authenticates through the adapter (then is no DLR: a voice webhook)', () => {
  const callback: InboundCallback = {
    method: 'POST',
    url: VECTOR_URL,
    headers: { 'x-twilio-signature': 'RSOYDt4T1cUTdK1PDd93/VVr8B8=' },
    rawBody: new URLSearchParams([...VECTOR_PARAMS]).toString(),
  };
  assert.throws(() => twilioAdapter.parseDeliveryReport(callback, { ...CREDENTIALS, authToken: '12345' }), DeliveryReportFormatError);
});

test('twilio signature: repeated names sign each value, values sorted', () => {
  assert.equal(
    twilioSignature('12345', VECTOR_URL, [['Media', 'b'], ['Media', 'a']]),
    twilioSignature('12345', VECTOR_URL, [['Media', 'a'], ['Media', 'b']]),
  );
});

const ROUND_TRIPS: readonly { outcome: SimulatedOutcome | 'enroute'; status: DeliveryReportStatus }[] = [
  { outcome: 'enroute', status: 'enroute' },
  { outcome: 'delivered', status: 'delivered' },
  { outcome: 'undelivered', status: 'undelivered' },
  { outcome: 'expired', status: 'expired' },
  { outcome: 'rejected', status: 'rejected' },
];

for (const { outcome, status } of ROUND_TRIPS) {
  test(`twilio round trip: simulated ${outcome} comes back ${status}`, () => {
    const built = twilioAdapter.buildSubmitRequest({ ...DOCUMENTED_SMS, deliveryReportUrl: 'https://router.example/v1/dlr/twilio' }, CREDENTIALS);
    const request = { method: built.method, path: built.path, headers: built.headers, rawBody: built.body ?? '' };
    assert.ok(twilioDialect.isSubmit(request));
    const submit = twilioDialect.parseSubmit(request);
    assert.ok(submit?.callbackUrl);
    // Two parts, still one sid: Twilio names messages, not segments.
    assert.deepEqual(twilioAdapter.classifySubmitResponse(twilioDialect.acceptedResponse(submit, ['SMsim1', 'SMsim2'])), {
      kind: 'accepted',
      providerMessageIds: ['SMsim1'],
    });
    const sent = twilioDialect.deliveryReport(submit, 'SMsim1', outcome, submit.callbackUrl, CREDENTIALS);
    const [report] = twilioAdapter.parseDeliveryReport({ method: sent.method, url: sent.url, headers: sent.headers, rawBody: sent.body ?? '' }, CREDENTIALS);
    assert.equal(report?.status, status);
    assert.equal(report?.messageId, DOCUMENTED_SMS.messageId);
    assert.equal(report?.providerMessageId, 'SMsim1');
  });
}

const SIMULATED_FAILURES: readonly { failure: SimulatedFailure; expected: SubmitOutcome }[] = [
  { failure: 'throttled', expected: { kind: 'transient', code: 'twilio:20429', reason: 'Too Many Requests', retryAfterMs: 30_000 } },
  { failure: 'server_error', expected: { kind: 'transient', code: 'twilio:20500', reason: 'Internal Server Error' } },
  { failure: 'invalid_number', expected: { kind: 'permanent', code: 'twilio:21211', reason: "The 'To' number is not a valid phone number." } },
  { failure: 'auth', expected: { kind: 'permanent', code: 'twilio:20003', reason: 'Authenticate' } },
  { failure: 'opted_out', expected: { kind: 'permanent', code: 'twilio:21610', reason: 'Attempt to send to unsubscribed recipient', recipientOptedOut: true } },
];

for (const { failure, expected } of SIMULATED_FAILURES) {
  test(`twilio round trip: simulated ${failure} classifies ${expected.kind}`, () => {
    assert.deepEqual(twilioAdapter.classifySubmitResponse(twilioDialect.failureResponse(failure, 30)), expected);
  });
}

describe('twilio adapter: hostile status callbacks (signed, so only the fields are wrong)', () => {
  const replaced = (name: string, value: string): [string, string][] =>
    DOCUMENTED_CALLBACK.map(([key, old]): [string, string] => [key, key === name ? value : old]);
  const onUrl = (ref: string) => `https://router.example/v1/dlr/twilio?ref=${encodeURIComponent(ref)}`;
  refusesHostileCallbacks('twilio', (callback) => twilioAdapter.parseDeliveryReport(callback, CREDENTIALS), [
    { label: 'a 100,000-character ref in our callback URL', callback: signedCallback(DOCUMENTED_CALLBACK, onUrl(HUGE)) },
    { label: 'a ref that is not one of our ids', callback: signedCallback(DOCUMENTED_CALLBACK, onUrl(NOT_OUR_ID)) },
    { label: 'a 100,000-character MessageSid', callback: signedCallback(replaced('MessageSid', HUGE)) },
    { label: 'a MessageSid with a NUL byte', callback: signedCallback(replaced('MessageSid', WITH_NUL)) },
    { label: 'a 100,000-character MessageStatus', callback: signedCallback(replaced('MessageStatus', HUGE)) },
    { label: 'a 100,000-character ErrorCode', callback: signedCallback([...withStatus('undelivered'), ['ErrorCode', HUGE]]) },
  ]);
});
