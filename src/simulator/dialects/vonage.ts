import { randomUUID } from 'node:crypto';
import { detectEncoding } from '../../domain/encoding';
import { parseJsonObject, scalarText } from '../../providers/shared/json';
import { compactTimestamp, e164FromMsisdn, headerValue, msisdnDigits } from '../../providers/shared/wire';
import type { Credentials, HttpResponse } from '../../providers/types';
import { vonageSignature, vonageSignatureMethod } from '../../providers/vonage';
import type { SimulatedFailure, SimulatedOutcome, SimulatorDialect, SimulatorInboundDialect, SimulatorRequest } from './types';

/** Vonage answers HTTP 200 to everything and says what went wrong in the part's `status`. */
const FAILURES: Readonly<Record<SimulatedFailure, { readonly status: string; readonly errorText: string }>> = {
  throttled: { status: '1', errorText: 'Throughput Rate Exceeded - please wait [ 1000 ] and retry' },
  server_error: { status: '5', errorText: 'Internal Error' },
  invalid_number: { status: '6', errorText: 'Unroutable message - rejected' },
  // Vonage accepts and then reports err-code 9 (PROVIDERS.md 5a); at submit the nearest is a refusal.
  opted_out: { status: '6', errorText: 'Unroutable message - rejected' },
  auth: { status: '4', errorText: 'Bad Credentials' },
};

const OUTCOMES: Readonly<Record<SimulatedOutcome | 'enroute', { readonly status: string; readonly errCode: string }>> = {
  enroute: { status: 'accepted', errCode: '0' },
  delivered: { status: 'delivered', errCode: '0' },
  undelivered: { status: 'failed', errCode: '3' },
  expired: { status: 'expired', errCode: '2' },
  rejected: { status: 'rejected', errCode: '6' },
};

/** Figures as in Vonage's documented examples; the router reads none of them. */
const NETWORK_CODE = '23410';
const PRICE = '0.03330000';

function json(value: unknown): HttpResponse {
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

/** The SMS API takes a form body (its specification) or JSON (its current SDK). */
function submitFields(request: SimulatorRequest): Record<string, unknown> | undefined {
  if (headerValue(request.headers, 'content-type')?.includes('json')) return parseJsonObject(request.rawBody);
  return Object.fromEntries(new URLSearchParams(request.rawBody));
}

/** The provider side of src/providers/vonage.ts. */
export const vonageDialect: SimulatorDialect = {
  name: 'vonage',
  idPerPart: true,

  isSubmit: (request) => request.method === 'POST' && request.path.split('?')[0] === '/sms/json',

  parseSubmit(request) {
    const fields = submitFields(request);
    const to = scalarText(fields?.to);
    const from = scalarText(fields?.from);
    const text = scalarText(fields?.text);
    if (!to || !from || text === undefined) return undefined;
    return {
      to: e164FromMsisdn(to),
      from,
      body: text,
      reference: scalarText(fields?.['client-ref']),
      callbackUrl: scalarText(fields?.callback),
    };
  },

  acceptedResponse: (submit, providerMessageIds) =>
    json({
      'message-count': String(providerMessageIds.length),
      messages: providerMessageIds.map((messageId) => ({
        to: msisdnDigits(submit.to),
        'message-id': messageId,
        status: '0',
        'client-ref': submit.reference,
        'remaining-balance': '15.53590000',
        'message-price': PRICE,
        network: NETWORK_CODE,
      })),
    }),

  // No Retry-After: Vonage documents none, and its throttling answer is a 200.
  failureResponse(failure) {
    const { status, errorText } = FAILURES[failure];
    return json({ 'message-count': '1', messages: [{ status, 'error-text': errorText }] });
  },

  // JSON POST, the webhook format Vonage recommends.
  deliveryReport(submit, providerMessageId, outcome, callbackUrl, credentials) {
    const now = new Date();
    const { status, errCode } = OUTCOMES[outcome];
    const params: Record<string, string> = {
      msisdn: msisdnDigits(submit.to),
      to: submit.from,
      'network-code': NETWORK_CODE,
      messageId: providerMessageId,
      price: PRICE,
      status,
      scts: compactTimestamp(now),
      'err-code': errCode,
      'message-timestamp': now.toISOString().slice(0, 19).replace('T', ' '),
    };
    if (submit.reference !== undefined) params['client-ref'] = submit.reference;
    if (credentials.apiKey) params['api-key'] = credentials.apiKey;
    sign(params, credentials, now);
    return { method: 'POST', url: callbackUrl, headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) };
  },
};

/** Inbound SMS as Vonage POSTs it in its JSON webhook format (PROVIDERS.md §5a), signed like its DLRs. */
export const vonageInboundDialect: SimulatorInboundDialect = {
  sendsParts: true,
  inboundCallback(sms, part, url, credentials) {
    const now = new Date();
    const params: Record<string, string> = {
      msisdn: msisdnDigits(sms.from),
      to: msisdnDigits(sms.to),
      messageId: part.providerMessageId,
      text: part.text,
      type: detectEncoding(part.text) === 'ucs2' ? 'unicode' : 'text',
      keyword: part.text.trim().split(/\s+/)[0]?.toUpperCase() ?? '',
      'message-timestamp': now.toISOString().slice(0, 19).replace('T', ' '),
    };
    if (part.concat) {
      params.concat = 'true';
      params['concat-ref'] = part.concat.ref;
      params['concat-total'] = String(part.concat.total);
      params['concat-part'] = String(part.concat.part);
    }
    if (credentials.apiKey) params['api-key'] = credentials.apiKey;
    sign(params, credentials, now);
    return { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) };
  },
};

/** Adds `timestamp`, `nonce` and `sig` when the account signs its webhooks, as Vonage does. */
function sign(params: Record<string, string>, credentials: Credentials, now: Date): void {
  const secret: string | undefined = credentials.signatureSecret;
  if (!secret) return;
  params.timestamp = String(Math.floor(now.getTime() / 1000));
  params.nonce = randomUUID();
  params.sig = vonageSignature(params, secret, vonageSignatureMethod(credentials));
}
