import { createHmac } from 'node:crypto';
import type { DeliveryReportStatus } from '../domain/status';
import { AmbiguousSubmitError, DeliveryReportAuthError, DeliveryReportFormatError } from './errors';
import { detectEncoding } from '../domain/encoding';
import { inboundSms } from './shared/inbound';
import { checkedDeliveryReport, preview } from './shared/delivery-report';
import { parseJsonObject, scalarText } from './shared/json';
import {
  type DeliveryErrorEntry,
  type SubmitErrorEntry,
  deliveryError,
  failedSubmit,
  failureKind,
  isSuccessStatus,
  occurredAt,
} from './shared/outcomes';
import { basicAuthorization, callbackUrl, clampInteger, constantTimeEqual, headerValue, requireCredential } from './shared/wire';
import type {
  Credentials,
  DeliveryReport,
  HttpResponse,
  InboundAcknowledgement,
  InboundAdapter,
  InboundCallback,
  InboundSms,
  ProviderAdapter,
  SubmitOutcome,
} from './types';

/**
 * Twilio Messages, `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (PROVIDERS.md §2):
 * https://www.twilio.com/docs/messaging/api/message-resource
 * Credentials: { accountSid, authToken }.
 */

/** Error codes met at submit: https://www.twilio.com/docs/api/errors */
const SUBMIT_ERRORS: Readonly<Record<string, SubmitErrorEntry>> = {
  '20003': { kind: 'permanent', reason: 'authentication failed' },
  '20005': { kind: 'permanent', reason: 'account not active (balance)' },
  '20429': { kind: 'transient', reason: 'too many requests' },
  '21211': { kind: 'permanent', reason: "invalid 'To' phone number" },
  '21212': { kind: 'permanent', reason: "invalid 'From' number" },
  '21606': { kind: 'permanent', reason: "'From' number cannot send to this destination" },
  '21611': { kind: 'transient', reason: "'From' number has more than 10 hours of messages queued" },
  '21610': { kind: 'permanent', reason: 'the recipient replied STOP to this sender', optedOut: true },
  '21614': { kind: 'permanent', reason: "'To' number is not a mobile number" },
  '21617': { kind: 'permanent', reason: 'body exceeds 1,600 characters' },
};

/**
 * `MessageStatus`: https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
 * `receiving` and `received` belong to inbound messages, so a status callback with them is malformed.
 */
const DLR_STATUSES: Readonly<Record<string, DeliveryReportStatus>> = {
  queued: 'enroute',
  sending: 'enroute',
  sent: 'enroute',
  accepted: 'enroute',
  scheduled: 'enroute',
  delivered: 'delivered',
  read: 'delivered',
  undelivered: 'undelivered',
  // `failed`: Twilio never handed it to a carrier (queue overflow, suspended account, ...).
  failed: 'rejected',
  // A scheduled message cancelled before Twilio sent it: nothing went out.
  canceled: 'rejected',
  // (interp.) Some segments never arrived, so the text as written did not reach the handset.
  partially_delivered: 'undelivered',
};

interface TwilioDeliveryError extends DeliveryErrorEntry {
  /** Replaces the status's mapping where the code says more than `failed` does. */
  readonly status?: DeliveryReportStatus;
}

/**
 * `ErrorCode` in status callbacks: https://www.twilio.com/docs/api/errors
 * `otherRoute` is ours (interp.): true where the fault lies with the Twilio account or route
 * (queueing, suspension, sender registration, carrier filtering of this route) or is unknown.
 */
const DLR_ERRORS: Readonly<Record<string, TwilioDeliveryError>> = {
  '30001': { reason: 'queue overflow', otherRoute: true },
  '30002': { reason: 'account suspended', otherRoute: true },
  '30003': { reason: 'unreachable destination handset', otherRoute: false },
  '30004': { reason: 'message blocked', otherRoute: false },
  '30005': { reason: 'unknown destination handset', otherRoute: false },
  '30006': { reason: 'landline or unreachable carrier', otherRoute: false },
  '30007': { reason: 'message filtered by the carrier', otherRoute: true },
  '30008': { reason: 'unknown error', otherRoute: true },
  '30034': { reason: 'message from an unregistered US A2P 10DLC number', otherRoute: true },
  '30036': { reason: 'validity period expired', otherRoute: false, status: 'expired' },
};

/** `ValidityPeriod` bounds in seconds. */
const VALIDITY_MIN_S = 1;
const VALIDITY_MAX_S = 36_000;

/** Our message id rides in the StatusCallback URL: Twilio has no client-reference field. */
export const TWILIO_REFERENCE_PARAM = 'ref';

/**
 * `X-Twilio-Signature`: base64 HMAC-SHA1 of the URL followed by every form parameter's name and
 * value, sorted by name (repeated names: each value, values sorted).
 */
export function twilioSignature(authToken: string, url: string, params: Iterable<readonly [string, string]>): string {
  const data = [...params]
    .sort(([nameA, valueA], [nameB, valueB]) => compare(nameA, nameB) || compare(valueA, valueB))
    .reduce((signed, [name, value]) => signed + name + value, url);
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

export const twilioAdapter: ProviderAdapter = {
  name: 'twilio',

  buildSubmitRequest(sms, credentials) {
    const accountSid = requireCredential(credentials, 'accountSid', 'twilio');
    const authToken = requireCredential(credentials, 'authToken', 'twilio');
    const statusCallback = new URL(sms.deliveryReportUrl);
    statusCallback.searchParams.set(TWILIO_REFERENCE_PARAM, sms.messageId);
    // No encoding field: Twilio picks GSM-7 or UCS-2 from the body itself.
    const form = new URLSearchParams({ To: sms.to, From: sms.from, Body: sms.body, StatusCallback: statusCallback.toString() });
    if (sms.validitySeconds !== undefined) {
      form.set('ValidityPeriod', String(clampInteger(sms.validitySeconds, VALIDITY_MIN_S, VALIDITY_MAX_S)));
    }
    return {
      method: 'POST',
      path: `/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: basicAuthorization(accountSid, authToken),
      },
      body: form.toString(),
    };
  },

  classifySubmitResponse(response: HttpResponse): SubmitOutcome {
    const parsed = parseJsonObject(response.body);
    if (isSuccessStatus(response.statusCode)) {
      const sid = scalarText(parsed?.sid);
      if (sid) return { kind: 'accepted', providerMessageIds: [sid] };
      throw new AmbiguousSubmitError(`twilio answered ${response.statusCode} without a message sid`);
    }
    const code = scalarText(parsed?.code);
    const entry = code === undefined ? undefined : SUBMIT_ERRORS[code];
    const reason = scalarText(parsed?.message) ?? entry?.reason ?? `HTTP ${response.statusCode}`;
    const outcomeCode = code === undefined ? `twilio:http_${response.statusCode}` : `twilio:${code}`;
    return failedSubmit(failureKind(response.statusCode, entry), outcomeCode, reason, response, entry);
  },

  // Every Twilio callback is signed with the account's auth token, which submits need anyway.
  verifiesSignatures(): boolean {
    return true;
  },

  parseDeliveryReport(callback: InboundCallback, credentials: Credentials): DeliveryReport[] {
    const params = new URLSearchParams(callback.rawBody);
    authenticate(callback, params, credentials);
    const providerMessageId = params.get('MessageSid') ?? params.get('SmsSid');
    if (!providerMessageId) throw new DeliveryReportFormatError('twilio status callback has no MessageSid');
    const providerStatus = params.get('MessageStatus') ?? params.get('SmsStatus') ?? '';
    const mapped = DLR_STATUSES[providerStatus];
    if (!mapped) throw new DeliveryReportFormatError(`twilio status callback status "${preview(providerStatus)}" is unknown`);
    const errorCode = params.get('ErrorCode');
    const error = errorCode ? DLR_ERRORS[errorCode] : undefined;
    return [
      checkedDeliveryReport({
        messageId: callbackUrl(callback.url).searchParams.get(TWILIO_REFERENCE_PARAM) ?? undefined,
        providerMessageId,
        status: error?.status ?? mapped,
        providerStatus,
        ...(errorCode ? deliveryError(`twilio:${errorCode}`, error, undefined) : {}),
        // RawDlrDoneDate is the carrier's stamp in an unstated time zone: use our receipt time.
        occurredAt: occurredAt(undefined),
      }),
    ];
  },
};

function authenticate(callback: InboundCallback, params: URLSearchParams, credentials: Credentials): void {
  const presented = headerValue(callback.headers, 'x-twilio-signature');
  if (!presented) throw new DeliveryReportAuthError('twilio status callback has no X-Twilio-Signature');
  const authToken = requireCredential(credentials, 'authToken', 'twilio');
  const valid = urlVariants(callback.url).some((url) => constantTimeEqual(twilioSignature(authToken, url, params), presented));
  if (!valid) throw new DeliveryReportAuthError('twilio status callback signature does not match');
}

/**
 * The URL as received, without and with the scheme's default port: Twilio is not consistent about
 * which form it signs (twilio-node checks both).
 */
function urlVariants(url: string): string[] {
  const match = /^(https?):\/\/([^/?#]+)(.*)$/i.exec(url);
  if (!match) return [url];
  const [, scheme, authority, rest] = match;
  const defaultPort = scheme.toLowerCase() === 'https' ? ':443' : ':80';
  const host = authority.endsWith(defaultPort) ? authority.slice(0, -defaultPort.length) : authority;
  if (/:\d+$/.test(host)) return [url];
  return [...new Set([url, `${scheme}://${host}${rest}`, `${scheme}://${host}${defaultPort}${rest}`])];
}

/** Code-unit order, as JavaScript's default sort and twilio-node use. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- Inbound SMS (PROVIDERS.md §5b) ----
// https://www.twilio.com/docs/messaging/guides/webhook-request. Signed like status callbacks
// (a GET signs the URL alone); long messages arrive reassembled, so there are no parts.

/** An empty TwiML response: "stored, no reply". An empty 200 logs warning 11200 at Twilio. */
const EMPTY_TWIML: InboundAcknowledgement = { statusCode: 200, contentType: 'text/xml', body: '<Response></Response>' };

const OPT_OUT_TYPES: ReadonlyMap<string, NonNullable<InboundSms['providerOptOut']>> = new Map([
  ['STOP', 'STOP'],
  ['START', 'START'],
  ['HELP', 'HELP'],
]);

export const twilioInbound: InboundAdapter = {
  parseInbound(callback: InboundCallback, credentials: Credentials): InboundSms[] {
    const fields = callback.method === 'GET' ? callbackUrl(callback.url).searchParams : new URLSearchParams(callback.rawBody);
    authenticate(callback, callback.method === 'GET' ? new URLSearchParams() : fields, credentials);
    const body = fields.get('Body') ?? undefined;
    return [
      inboundSms('twilio', {
        providerMessageId: fields.get('MessageSid') ?? fields.get('SmsSid') ?? undefined,
        from: fields.get('From') ?? undefined,
        to: fields.get('To') ?? undefined,
        text: body,
        // Twilio does not say how the handset encoded it; what the text needs is the best guess.
        encoding: body === undefined ? 'gsm7' : detectEncoding(body),
        receivedAtMs: undefined,
        providerOptOut: OPT_OUT_TYPES.get(fields.get('OptOutType') ?? ''),
      }),
    ];
  },
  inboundAcknowledgement: EMPTY_TWIML,
};
