import { randomUUID } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { gatewayApiSignature } from '../../providers/gatewayapi';
import { isRecord, parseJsonObject, scalarText } from '../../providers/shared/json';
import { e164FromMsisdn, msisdnDigits } from '../../providers/shared/wire';
import type { HttpResponse } from '../../providers/types';
import type { SimulatedFailure, SimulatedOutcome, SimulatorDialect, SimulatorInboundDialect } from './types';

/**
 * GatewayAPI documents no throttling answer (it refuses connections past 40 per IP), so throttled
 * and server errors use its general codes with the API origin: 0x02 + 09 (EAGAIN), 0x02 + 01.
 */
const FAILURES: Readonly<
  Record<SimulatedFailure, { readonly statusCode: number; readonly code: string; readonly message: string; readonly variables: string[] }>
> = {
  throttled: { statusCode: 429, code: '0x0209', message: 'Resource temporarily unavailable', variables: [] },
  server_error: { statusCode: 500, code: '0x0201', message: 'Unknown error', variables: [] },
  invalid_number: { statusCode: 400, code: '0x0308', message: 'Invalid Argument: %1', variables: ['recipients.0.msisdn'] },
  // GatewayAPI documents no opt-out refusal at submit (PROVIDERS.md 5c): the nearest is refusing the number.
  opted_out: { statusCode: 400, code: '0x0308', message: 'Invalid Argument: %1', variables: ['recipients.0.msisdn'] },
  auth: { statusCode: 401, code: '0x0210', message: 'Invalid username: %1', variables: ['(token)'] },
};

const OUTCOMES: Readonly<Record<SimulatedOutcome | 'enroute', { readonly status: string; readonly code?: string; readonly error?: string }>> = {
  enroute: { status: 'ENROUTE' },
  delivered: { status: 'DELIVERED' },
  undelivered: { status: 'UNDELIVERABLE', code: '0x1010', error: 'Unknown subscriber' },
  expired: { status: 'EXPIRED', code: '0x1013', error: 'Absent subscriber' },
  rejected: { status: 'REJECTED', code: '0x1034', error: 'Error, destination blocked' },
};

/** As in the documented response: two SMS to Denmark cost 0.30 DKK. */
const PRICE_PER_SMS_DKK = 0.15;

/** The `api` claim GatewayAPI puts in its signed DSNs, as in its documented sample. */
const SIGNED_API = 4;

function json(statusCode: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** GatewayAPI's ids are integers; the simulator's may not be, and the router reads either. */
function wireId(id: string): number | string {
  return /^\d+$/.test(id) ? Number(id) : id;
}

/** The provider side of src/providers/gatewayapi.ts (classic REST). */
export const gatewayApiDialect: SimulatorDialect = {
  name: 'gatewayapi',
  idPerPart: false,

  isSubmit: (request) => request.method === 'POST' && request.path.split('?')[0] === '/rest/mtsms',

  // The router sends one message object with one recipient; lists and fan-out are not simulated.
  parseSubmit(request) {
    const message = parseJsonObject(request.rawBody);
    const recipients = message?.recipients;
    const [recipient] = Array.isArray(recipients) && recipients.length === 1 ? recipients : [];
    const msisdn = isRecord(recipient) ? scalarText(recipient.msisdn) : undefined;
    const sender = scalarText(message?.sender);
    const text = scalarText(message?.message);
    if (!msisdn || !sender || text === undefined) return undefined;
    return {
      to: e164FromMsisdn(msisdn),
      from: sender,
      body: text,
      reference: scalarText(message?.userref),
      callbackUrl: scalarText(message?.callback_url),
    };
  },

  // One id per message object, however many SMS it takes.
  acceptedResponse(submit, providerMessageIds) {
    const country = parsePhoneNumberFromString(submit.to)?.country ?? 'XX';
    const parts = providerMessageIds.length;
    return json(200, {
      ids: [wireId(providerMessageIds[0])],
      usage: { countries: { [country]: parts }, currency: 'DKK', total_cost: parts * PRICE_PER_SMS_DKK },
    });
  },

  failureResponse(failure, retryAfterSeconds) {
    const { statusCode, code, message, variables } = FAILURES[failure];
    const headers: Record<string, string> = failure === 'throttled' ? { 'retry-after': String(retryAfterSeconds) } : {};
    return json(statusCode, { code, incident_uuid: randomUUID(), message, variables }, headers);
  },

  deliveryReport(submit, providerMessageId, outcome, callbackUrl, credentials) {
    const { status, code, error } = OUTCOMES[outcome];
    const phone = parsePhoneNumberFromString(submit.to);
    const dsn = {
      id: wireId(providerMessageId),
      msisdn: Number(msisdnDigits(submit.to)),
      time: Math.floor(Date.now() / 1000),
      status,
      error: error ?? null,
      code: code ?? null,
      userref: submit.reference ?? null,
      country_code: phone?.country,
      country_prefix: phone ? Number(phone.countryCallingCode) : undefined,
    };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const secret: string | undefined = credentials.webhookSecret;
    if (secret) headers['x-gwapi-signature'] = gatewayApiSignature({ ...dsn, callback_url: callbackUrl, api: SIGNED_API }, secret);
    return { method: 'POST', url: callbackUrl, headers, body: JSON.stringify(dsn) };
  },
};

/** An MO SMS as GatewayAPI POSTs it (PROVIDERS.md §5c), its JWT repeating the body as we assume. */
export const gatewayApiInboundDialect: SimulatorInboundDialect = {
  sendsParts: false,
  inboundCallback(sms, part, url, credentials) {
    const mo = {
      id: Number(part.providerMessageId.replace(/\D/g, '')) || 1,
      msisdn: Number(msisdnDigits(sms.from)),
      receiver: Number(msisdnDigits(sms.to)),
      message: part.text,
      senttime: Math.floor(Date.now() / 1000),
      webhook_label: 'smsrouter',
    };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const secret: string | undefined = credentials.webhookSecret;
    if (secret) headers['x-gwapi-signature'] = gatewayApiSignature(mo, secret);
    return { method: 'POST', url, headers, body: JSON.stringify(mo) };
  },
};
