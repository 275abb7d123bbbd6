import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { genericDialect } from '../../src/simulator/dialects/generic';
import { AmbiguousSubmitError, DeliveryReportAuthError, DeliveryReportFormatError } from '../../src/providers/errors';
import { genericAdapter } from '../../src/providers/generic';
import type { HttpResponse, InboundCallback, SubmitOutcome } from '../../src/providers/types';
import { HUGE, LONG_REASON, NOT_OUR_ID, WITH_NUL, refusesHostileCallbacks } from './hostile';

const credentials = { apiKey: 'key-1', dlrSecret: 's3cret' };

describe('generic adapter: submit request', () => {
  test('POSTs JSON to /messages with the bearer key, our id as reference and the DLR URL', () => {
    const request = genericAdapter.buildSubmitRequest(
      {
        messageId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
        to: '+4520123456',
        from: 'Acme',
        body: 'Hi €',
        encoding: 'gsm7',
        deliveryReportUrl: 'https://router.example/v1/dlr/p1',
        validitySeconds: 600,
      },
      credentials,
    );
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/messages');
    assert.equal(request.headers.authorization, 'Bearer key-1');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(request.body ?? ''), {
      to: '+4520123456',
      from: 'Acme',
      text: 'Hi €',
      encoding: 'gsm7',
      reference: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      callbackUrl: 'https://router.example/v1/dlr/p1',
      validitySeconds: 600,
    });
  });
});

describe('generic adapter: submit responses', () => {
  const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const cases: { label: string; response: HttpResponse; outcome: SubmitOutcome }[] = [
    { label: '201 with id', response: json(201, { id: 'p-1' }), outcome: { kind: 'accepted', providerMessageIds: ['p-1'] } },
    {
      label: '429 with Retry-After',
      response: json(429, { error: { code: 'throttled', message: 'slow down' } }, { 'retry-after': '3' }),
      outcome: { kind: 'transient', code: 'generic:throttled', reason: 'slow down', retryAfterMs: 3000 },
    },
    {
      label: '503 without body',
      response: { statusCode: 503, headers: {}, body: '' },
      outcome: { kind: 'transient', code: 'generic:http_503', reason: 'HTTP 503', retryAfterMs: undefined },
    },
    {
      label: '400 invalid number',
      response: json(400, { error: { code: 'invalid_number', message: 'bad number' } }),
      outcome: { kind: 'permanent', code: 'generic:invalid_number', reason: 'bad number' },
    },
    {
      label: '401 bad credentials',
      response: json(401, { error: { code: 'unauthorized', message: 'bad credentials' } }),
      outcome: { kind: 'permanent', code: 'generic:unauthorized', reason: 'bad credentials' },
    },
  ];
  for (const { label, response, outcome } of cases) {
    test(label, () => assert.deepEqual(genericAdapter.classifySubmitResponse(response), outcome));
  }
  test('a 2xx without an id may have been accepted: ambiguous, never a silent retry', () => {
    assert.throws(() => genericAdapter.classifySubmitResponse({ statusCode: 200, headers: {}, body: 'OK' }), AmbiguousSubmitError);
  });
});

describe('generic adapter: delivery reports', () => {
  const callback = (body: unknown, headers: Record<string, string> = { 'x-dlr-secret': 's3cret' }, url = 'https://router.example/v1/dlr/p1'): InboundCallback => ({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    rawBody: typeof body === 'string' ? body : JSON.stringify(body),
  });

  test('a delivered report maps to delivered with our reference', () => {
    const [report] = genericAdapter.parseDeliveryReport(
      callback({ id: 'p-1', reference: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', status: 'delivered', timestamp: '2026-11-23T10:00:00Z' }),
      credentials,
    );
    assert.deepEqual(report, {
      messageId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      providerMessageId: 'p-1',
      status: 'delivered',
      providerStatus: 'delivered',
      errorCode: undefined,
      errorReason: undefined,
      retryableOnOtherRoute: false,
      occurredAt: '2026-11-23T10:00:00.000Z',
    });
  });

  test('an undelivered report with a network error may be resent on another route', () => {
    const [report] = genericAdapter.parseDeliveryReport(
      callback({ id: 'p-2', status: 'undelivered', errorCode: 'network_error', errorMessage: 'no network' }),
      credentials,
    );
    assert.equal(report?.status, 'undelivered');
    assert.equal(report?.retryableOnOtherRoute, true);
    assert.equal(report?.errorReason, 'no network');
  });

  test('the secret may come as a query parameter', () => {
    const reports = genericAdapter.parseDeliveryReport(
      callback({ id: 'p-3', status: 'enroute' }, {}, 'https://router.example/v1/dlr/p1?secret=s3cret'),
      credentials,
    );
    assert.equal(reports[0]?.status, 'enroute');
  });

  const rejected: { label: string; callback: InboundCallback; error: typeof DeliveryReportAuthError | typeof DeliveryReportFormatError }[] = [
    { label: 'missing secret', callback: callback({ id: 'p', status: 'delivered' }, {}), error: DeliveryReportAuthError },
    { label: 'wrong secret', callback: callback({ id: 'p', status: 'delivered' }, { 'x-dlr-secret': 'nope' }), error: DeliveryReportAuthError },
    { label: 'not JSON', callback: callback('id=p&status=delivered'), error: DeliveryReportFormatError },
    { label: 'no id', callback: callback({ status: 'delivered' }), error: DeliveryReportFormatError },
    { label: 'unknown status', callback: callback({ id: 'p', status: 'teleported' }), error: DeliveryReportFormatError },
  ];
  for (const { label, callback: input, error } of rejected) {
    test(`${label} is refused with ${error.name}`, () => {
      assert.throws(() => genericAdapter.parseDeliveryReport(input, credentials), error);
    });
  }
});

describe('generic dialect round trip', () => {
  test("the simulator's signed DLR parses back to the same message and outcome", () => {
    const submit = { to: '+4520123456', from: 'Acme', body: 'x', reference: '9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f' };
    for (const outcome of ['delivered', 'undelivered', 'expired', 'rejected', 'enroute'] as const) {
      const outgoing = genericDialect.deliveryReport(submit, 'p-9', outcome, 'https://router.example/v1/dlr/p1', credentials);
      const [report] = genericAdapter.parseDeliveryReport(
        { method: outgoing.method, url: outgoing.url, headers: outgoing.headers, rawBody: outgoing.body ?? '' },
        credentials,
      );
      assert.equal(report?.messageId, '9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f');
      assert.equal(report?.providerMessageId, 'p-9');
      assert.equal(report?.status, outcome);
    }
  });

  test("the simulator's failure answers classify as the failure they simulate", () => {
    assert.equal(genericAdapter.classifySubmitResponse(genericDialect.failureResponse('throttled', 2)).kind, 'transient');
    assert.equal(genericAdapter.classifySubmitResponse(genericDialect.failureResponse('server_error', 2)).kind, 'transient');
    assert.equal(genericAdapter.classifySubmitResponse(genericDialect.failureResponse('invalid_number', 2)).kind, 'permanent');
    assert.equal(genericAdapter.classifySubmitResponse(genericDialect.failureResponse('auth', 2)).kind, 'permanent');
  });
});

describe('generic adapter: hostile delivery reports', () => {
  const reference = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
  const callback = (fields: Record<string, unknown>): InboundCallback => ({
    method: 'POST',
    url: 'https://router.example/v1/dlr/p1',
    headers: { 'content-type': 'application/json', 'x-dlr-secret': 's3cret' },
    rawBody: JSON.stringify({ id: 'p-1', reference, status: 'delivered', ...fields }),
  });
  refusesHostileCallbacks('generic', (input) => genericAdapter.parseDeliveryReport(input, credentials), [
    { label: 'a 100,000-character reference', callback: callback({ reference: HUGE }) },
    { label: 'a reference that is not one of our ids', callback: callback({ reference: NOT_OUR_ID }) },
    { label: 'a reference with a NUL byte', callback: callback({ reference: `${reference}\u0000` }) },
    { label: 'a numeric reference', callback: callback({ reference: 42 }) },
    { label: 'an object as reference', callback: callback({ reference: { $ne: null } }) },
    { label: 'a 100,000-character provider id', callback: callback({ id: HUGE }) },
    { label: 'a provider id with a NUL byte', callback: callback({ id: WITH_NUL }) },
    { label: 'a numeric provider id', callback: callback({ id: 7 }) },
    { label: 'a 100,000-character status', callback: callback({ status: HUGE }) },
    { label: 'an array as status', callback: callback({ status: ['delivered'] }) },
    { label: 'a 100,000-character error code', callback: callback({ status: 'undelivered', errorCode: HUGE }) },
    { label: 'a 10,000-character error message', callback: callback({ status: 'undelivered', errorCode: 'x', errorMessage: LONG_REASON }) },
    { label: 'an error message with a NUL byte', callback: callback({ status: 'undelivered', errorCode: 'x', errorMessage: WITH_NUL }) },
  ]);
});
