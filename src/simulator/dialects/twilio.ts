import { compactTimestamp, requireCredential } from '../../providers/shared/wire';
import type { HttpResponse } from '../../providers/types';
import { TWILIO_REFERENCE_PARAM, twilioSignature } from '../../providers/twilio';
import type { SimulatedFailure, SimulatedOutcome, SimulatorDialect, SimulatorInboundDialect } from './types';

const SUBMIT_PATH = /^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/;

const FAILURES: Readonly<Record<SimulatedFailure, { readonly statusCode: number; readonly code: number; readonly message: string }>> = {
  throttled: { statusCode: 429, code: 20429, message: 'Too Many Requests' },
  server_error: { statusCode: 500, code: 20500, message: 'Internal Server Error' },
  invalid_number: { statusCode: 400, code: 21211, message: "The 'To' number is not a valid phone number." },
  opted_out: { statusCode: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' },
  auth: { statusCode: 401, code: 20003, message: 'Authenticate' },
};

const OUTCOMES: Readonly<Record<SimulatedOutcome | 'enroute', { readonly status: string; readonly errorCode?: string }>> = {
  enroute: { status: 'sent' },
  delivered: { status: 'delivered' },
  undelivered: { status: 'undelivered', errorCode: '30003' },
  // Twilio has no expired status: a message past its ValidityPeriod fails with 30036.
  expired: { status: 'failed', errorCode: '30036' },
  rejected: { status: 'failed', errorCode: '30007' },
};

/** Carriers' done date only comes with these statuses. */
const WITH_DONE_DATE: ReadonlySet<string> = new Set(['delivered', 'undelivered']);

function json(statusCode: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** The provider side of src/providers/twilio.ts. */
export const twilioDialect: SimulatorDialect = {
  name: 'twilio',
  idPerPart: false,

  isSubmit: (request) => request.method === 'POST' && SUBMIT_PATH.test(request.path.split('?')[0]),

  // Twilio has no client reference: ours is in the StatusCallback URL and comes back with it. The
  // simulator reads it from there only to count submits per message.
  parseSubmit(request) {
    const form = new URLSearchParams(request.rawBody);
    const to = form.get('To');
    const from = form.get('From') ?? form.get('MessagingServiceSid');
    const body = form.get('Body');
    if (!to || !from || body === null) return undefined;
    const callbackUrl = form.get('StatusCallback') ?? undefined;
    const reference = callbackUrl ? (URL.canParse(callbackUrl) ? new URL(callbackUrl).searchParams.get(TWILIO_REFERENCE_PARAM) : null) : null;
    return { to, from, body, callbackUrl, reference: reference ?? undefined };
  },

  // One sid per message whatever its length; the segments are counted, not named.
  acceptedResponse: (submit, providerMessageIds) =>
    json(201, {
      api_version: '2010-04-01',
      body: submit.body,
      date_created: new Date().toUTCString(),
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: submit.from,
      num_segments: String(providerMessageIds.length),
      sid: providerMessageIds[0],
      status: 'queued',
      to: submit.to,
    }),

  failureResponse(failure, retryAfterSeconds) {
    const { statusCode, code, message } = FAILURES[failure];
    // (interp.) Twilio documents no Retry-After; the simulator's rate limit sends one anyway so
    // that honouring it is exercised.
    const headers: Record<string, string> = failure === 'throttled' ? { 'retry-after': String(retryAfterSeconds) } : {};
    return json(statusCode, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status: statusCode }, headers);
  },

  deliveryReport(submit, providerMessageId, outcome, callbackUrl, credentials) {
    const { status, errorCode } = OUTCOMES[outcome];
    const params = new URLSearchParams({
      SmsSid: providerMessageId,
      SmsStatus: status,
      MessageStatus: status,
      To: submit.to,
      MessageSid: providerMessageId,
      AccountSid: requireCredential(credentials, 'accountSid', 'twilio'),
      From: submit.from,
      ApiVersion: '2010-04-01',
    });
    if (errorCode) params.set('ErrorCode', errorCode);
    if (WITH_DONE_DATE.has(status)) params.set('RawDlrDoneDate', compactTimestamp(new Date()));
    return {
      method: 'POST',
      url: callbackUrl,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilioSignature(requireCredential(credentials, 'authToken', 'twilio'), callbackUrl, params),
      },
      body: params.toString(),
    };
  },
};

/** An incoming message as Twilio POSTs it to the number's webhook (PROVIDERS.md §5b), signed. */
export const twilioInboundDialect: SimulatorInboundDialect = {
  sendsParts: false,
  inboundCallback(sms, part, url, credentials) {
    const params = new URLSearchParams({
      ToCountry: 'US',
      SmsMessageSid: part.providerMessageId,
      NumMedia: '0',
      SmsSid: part.providerMessageId,
      SmsStatus: 'received',
      Body: part.text,
      To: sms.to,
      NumSegments: '1',
      MessageSid: part.providerMessageId,
      AccountSid: requireCredential(credentials, 'accountSid', 'twilio'),
      From: sms.from,
      ApiVersion: '2010-04-01',
    });
    return {
      method: 'POST',
      url,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilioSignature(requireCredential(credentials, 'authToken', 'twilio'), url, params),
      },
      body: params.toString(),
    };
  },
};
