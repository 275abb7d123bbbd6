import { createHash, createHmac } from 'node:crypto';
import type { DeliveryReportStatus } from '../domain/status';
import { CredentialsError } from './credentials';
import { AmbiguousSubmitError, DeliveryReportAuthError, DeliveryReportFormatError, InboundFormatError } from './errors';
import { EMPTY_OK, inboundSms } from './shared/inbound';
import { WEBHOOK_TOKEN_PARAM } from './webhook-token';
import { checkedDeliveryReport, preview } from './shared/delivery-report';
import { isRecord, parseJsonObject, scalarText } from './shared/json';
import {
  type DeliveryErrorEntry,
  type SubmitErrorEntry,
  deliveryError,
  failedSubmit,
  failureKind,
  isSuccessStatus,
  occurredAt,
} from './shared/outcomes';
import {
  basicAuthorization,
  callbackUrl,
  clampInteger,
  constantTimeEqual,
  headerValue,
  msisdnDigits,
  requireCredential,
} from './shared/wire';
import type { Credentials, DeliveryReport, HttpResponse, InboundAdapter, InboundCallback, InboundEncoding, InboundSms, ProviderAdapter, SubmitOutcome } from './types';

/**
 * Vonage SMS API (legacy), `POST /sms/json` (PROVIDERS.md §1): https://developer.vonage.com/en/api/sms
 * Credentials: { apiKey, apiSecret, signatureSecret?, signatureMethod? }.
 */

/** Submit `status` codes: https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms#sms-api-error-codes */
const SUBMIT_ERRORS: Readonly<Record<string, SubmitErrorEntry>> = {
  '1': { kind: 'transient', reason: 'throttled' },
  '2': { kind: 'permanent', reason: 'missing parameters' },
  '3': { kind: 'permanent', reason: 'invalid parameters' },
  '4': { kind: 'permanent', reason: 'invalid credentials' },
  // (interp.) Vonage does not say whether an internal error is worth retrying; we bet it is.
  '5': { kind: 'transient', reason: 'internal error' },
  '6': { kind: 'permanent', reason: 'invalid message: unrecognised number prefix' },
  '7': { kind: 'permanent', reason: 'number barred' },
  '8': { kind: 'permanent', reason: 'account barred' },
  '9': { kind: 'permanent', reason: 'insufficient balance' },
  '10': { kind: 'transient', reason: 'too many existing binds' },
  '11': { kind: 'permanent', reason: 'account not enabled for HTTP' },
  '12': { kind: 'permanent', reason: 'message too long' },
  '14': { kind: 'permanent', reason: 'invalid signature' },
  '15': { kind: 'permanent', reason: 'invalid sender address' },
  '22': { kind: 'permanent', reason: 'invalid network code' },
  '23': { kind: 'permanent', reason: 'invalid callback URL' },
  '29': { kind: 'permanent', reason: 'destination not whitelisted' },
  '32': { kind: 'permanent', reason: 'signature and API secret both sent' },
  '33': { kind: 'permanent', reason: 'number de-activated' },
};

/** DLR `status`: https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts */
const DLR_STATUSES: Readonly<Record<string, DeliveryReportStatus>> = {
  accepted: 'enroute',
  buffered: 'buffered',
  delivered: 'delivered',
  expired: 'expired',
  // The network tried and could not deliver, as opposed to refusing the message up front.
  failed: 'undelivered',
  rejected: 'rejected',
  unknown: 'unknown',
};

/**
 * DLR `err-code`: https://developer.vonage.com/en/messaging/sms/guides/delivery-receipts#dlr-error-codes
 * `otherRoute` is ours (interp.): true where the fault lies with the route (porting data, network,
 * routing) rather than with the handset or the content.
 */
const DLR_ERRORS: Readonly<Record<string, DeliveryErrorEntry>> = {
  '1': { reason: 'unknown', otherRoute: false },
  '2': { reason: 'absent subscriber (temporary)', otherRoute: false },
  '3': { reason: 'absent subscriber (permanent)', otherRoute: false },
  '4': { reason: 'call barred by user', otherRoute: false },
  '5': { reason: 'portability error', otherRoute: true },
  '6': { reason: 'anti-spam rejection', otherRoute: false },
  '7': { reason: 'handset busy', otherRoute: false },
  '8': { reason: 'network error', otherRoute: true },
  '9': { reason: 'illegal number', otherRoute: false },
  '10': { reason: 'illegal message', otherRoute: false },
  '11': { reason: 'unroutable', otherRoute: true },
  '12': { reason: 'destination unreachable', otherRoute: true },
  '13': { reason: 'subscriber age restriction', otherRoute: false },
  '14': { reason: 'number blocked by carrier', otherRoute: false },
  '15': { reason: 'prepaid insufficient funds', otherRoute: false },
  '99': { reason: 'general error', otherRoute: true },
};

/** `ttl` bounds in milliseconds, from the API specification. */
const TTL_MIN_MS = 20_000;
const TTL_MAX_MS = 604_800_000;

/** (interp.) Vonage asks us to check that `timestamp` is recent without naming a window. */
const SIGNATURE_MAX_SKEW_MS = 5 * 60_000;

const SIGNATURE_METHODS = ['md5hash', 'md5', 'sha1', 'sha256', 'sha512'] as const;
export type VonageSignatureMethod = (typeof SIGNATURE_METHODS)[number];

/** The account's signing algorithm, a dashboard setting: "MD5 hash" unless credentials say otherwise. */
export function vonageSignatureMethod(credentials: Credentials): VonageSignatureMethod {
  const configured: string = credentials.signatureMethod ?? 'md5hash';
  const method = SIGNATURE_METHODS.find((candidate) => candidate === configured);
  if (!method) throw new CredentialsError(`vonage signatureMethod must be one of ${SIGNATURE_METHODS.join(', ')}`);
  return method;
}

/**
 * `sig` over callback parameters (signing-messages guide), lower-case hex. `params` are every
 * parameter received except `sig` itself.
 */
export function vonageSignature(params: Readonly<Record<string, string>>, secret: string, method: VonageSignatureMethod): string {
  const data = Object.keys(params)
    .sort()
    .map((key) => `&${key}=${params[key].replace(/[&=]/g, '_')}`)
    .join('');
  if (method === 'md5hash') return createHash('md5').update(data + secret).digest('hex');
  return createHmac(method, secret).update(data).digest('hex');
}

export const vonageAdapter: ProviderAdapter = {
  name: 'vonage',

  buildSubmitRequest(sms, credentials) {
    const apiKey = requireCredential(credentials, 'apiKey', 'vonage');
    const apiSecret = requireCredential(credentials, 'apiSecret', 'vonage');
    return {
      method: 'POST',
      path: '/sms/json',
      // JSON with Basic auth, as the current Vonage Node SDK sends it.
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: basicAuthorization(apiKey, apiSecret),
      },
      body: JSON.stringify({
        from: sms.from,
        to: msisdnDigits(sms.to),
        text: sms.body,
        type: sms.encoding === 'ucs2' ? 'unicode' : 'text',
        'client-ref': sms.messageId,
        callback: sms.deliveryReportUrl,
        ttl: sms.validitySeconds === undefined ? undefined : clampInteger(sms.validitySeconds * 1000, TTL_MIN_MS, TTL_MAX_MS),
      }),
    };
  },

  classifySubmitResponse(response: HttpResponse): SubmitOutcome {
    // The SMS API answers 200 even to errors; any other status came from in front of it.
    if (!isSuccessStatus(response.statusCode)) {
      const code = `vonage:http_${response.statusCode}`;
      return failedSubmit(failureKind(response.statusCode, undefined), code, `HTTP ${response.statusCode}`, response);
    }
    const { messageIds, failures } = readSubmitAnswer(response.body);
    const [failure] = failures;
    if (!failure) return { kind: 'accepted', providerMessageIds: messageIds };
    // Some parts went out and some did not: resending would repeat parts, not resending loses
    // them. That is the dispatch layer's call (its delivery guarantee), as for a lost answer.
    if (messageIds.length > 0) {
      throw new AmbiguousSubmitError(`vonage accepted ${messageIds.length} of ${messageIds.length + failures.length} parts`);
    }
    const entry = SUBMIT_ERRORS[failure.status];
    const reason = failure.errorText ?? entry?.reason ?? `status ${failure.status}`;
    return failedSubmit(failureKind(response.statusCode, entry), `vonage:${failure.status}`, reason, response);
  },

  verifiesSignatures(credentials: Credentials): boolean {
    return Boolean(credentials.signatureSecret);
  },

  parseDeliveryReport(callback: InboundCallback, credentials: Credentials): DeliveryReport[] {
    const params = callbackParams(callback);
    authenticate(params, credentials);
    return [checkedDeliveryReport(toDeliveryReport(params))];
  },
};

interface SubmitAnswer {
  readonly messageIds: string[];
  readonly failures: { readonly status: string; readonly errorText?: string }[];
}

/** One object per SMS part; anything else in a 200 means we cannot tell what Vonage did. */
function readSubmitAnswer(body: string): SubmitAnswer {
  const parsed = parseJsonObject(body);
  const messages = parsed?.messages;
  const count = Number(scalarText(parsed?.['message-count']));
  if (!Array.isArray(messages) || messages.length === 0 || count !== messages.length) {
    throw new AmbiguousSubmitError('vonage answered 200 with a body that is not an SMS API response');
  }
  const answer: SubmitAnswer = { messageIds: [], failures: [] };
  for (const message of messages) {
    const part: Readonly<Record<string, unknown>> = isRecord(message) ? message : {};
    const status = scalarText(part.status);
    if (status === undefined) throw new AmbiguousSubmitError('vonage answered 200 with a part that has no status');
    const messageId = scalarText(part['message-id']);
    if (status !== '0') answer.failures.push({ status, errorText: scalarText(part['error-text']) });
    else if (messageId) answer.messageIds.push(messageId);
    else throw new AmbiguousSubmitError('vonage accepted a part without a message-id');
  }
  return answer;
}

/** The account's "Webhook format" decides the transport: GET query, form POST or JSON POST. */
function callbackParams(callback: InboundCallback): Record<string, string> {
  if (callback.method === 'GET') {
    // Our own token rides in the URL we gave Vonage; it is not one of the fields Vonage signs.
    const params = callbackUrl(callback.url).searchParams;
    params.delete(WEBHOOK_TOKEN_PARAM);
    return Object.fromEntries(params);
  }
  if (!headerValue(callback.headers, 'content-type')?.includes('json')) return Object.fromEntries(new URLSearchParams(callback.rawBody));
  const parsed = parseJsonObject(callback.rawBody);
  if (!parsed) throw new DeliveryReportFormatError('vonage delivery receipt is not a JSON object');
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    // A JSON null is a field left out, as it would be in the GET and form formats.
    if (value === null) continue;
    const text = scalarText(value);
    if (text === undefined) throw new DeliveryReportFormatError(`vonage delivery receipt field "${preview(key)}" is not a scalar`);
    params[key] = text;
  }
  return params;
}

function authenticate(params: Readonly<Record<string, string>>, credentials: Credentials): void {
  const apiKey: string | undefined = credentials.apiKey;
  const presentedKey: string | undefined = params['api-key'];
  if (apiKey && presentedKey !== undefined && presentedKey !== apiKey) {
    throw new DeliveryReportAuthError('vonage delivery receipt is for another API key');
  }
  const secret: string | undefined = credentials.signatureSecret;
  if (!secret) return;
  const { sig, ...signed } = params;
  if (!sig) throw new DeliveryReportAuthError('vonage delivery receipt has no sig');
  const expected = vonageSignature(signed, secret, vonageSignatureMethod(credentials));
  if (!constantTimeEqual(expected, sig.toLowerCase())) throw new DeliveryReportAuthError('vonage delivery receipt sig does not match');
  const timestamp: string | undefined = params.timestamp;
  const signedAtMs = Number(timestamp) * 1000;
  if (!timestamp || !(Math.abs(Date.now() - signedAtMs) <= SIGNATURE_MAX_SKEW_MS)) {
    throw new DeliveryReportAuthError('vonage delivery receipt timestamp is missing or not recent');
  }
}

function toDeliveryReport(params: Readonly<Record<string, string>>): DeliveryReport {
  const providerMessageId: string | undefined = params.messageId;
  if (!providerMessageId) throw new DeliveryReportFormatError('vonage delivery receipt has no messageId');
  const providerStatus = params.status ?? '';
  const status = DLR_STATUSES[providerStatus];
  if (!status) throw new DeliveryReportFormatError(`vonage delivery receipt status "${preview(providerStatus)}" is unknown`);
  const errCode: string | undefined = params['err-code'];
  return {
    messageId: params['client-ref'] || undefined,
    providerMessageId,
    status,
    providerStatus,
    // Submit statuses and DLR err-codes are separate number spaces at Vonage: keep them apart.
    ...(errCode && errCode !== '0' ? deliveryError(`vonage:dlr:${errCode}`, DLR_ERRORS[errCode], undefined) : {}),
    occurredAt: occurredAt(messageTimestampMs(params['message-timestamp'])),
  };
}

/** `message-timestamp` is UTC `YYYY-MM-DD HH:MM:SS`; `scts` is the carrier's local time, so unusable. */
function messageTimestampMs(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(value);
  return match ? Date.parse(`${match[1]}T${match[2]}Z`) : undefined;
}

// ---- Inbound SMS (PROVIDERS.md §5a) ----
// https://developer.vonage.com/en/messaging/sms/guides/inbound-sms. The same transports (GET,
// form POST, JSON POST) and the same `sig` as delivery receipts, so both reuse their helpers.

const INBOUND_ENCODINGS: Readonly<Record<string, InboundEncoding>> = { text: 'gsm7', unicode: 'ucs2', binary: 'binary' };

export const vonageInbound: InboundAdapter = {
  parseInbound(callback: InboundCallback, credentials: Credentials): InboundSms[] {
    const params = callbackParams(callback);
    authenticate(params, credentials);
    const type = params.type ?? 'text';
    const encoding = INBOUND_ENCODINGS[type];
    if (!encoding) throw new InboundFormatError(`vonage inbound message type "${type}" is unknown`);
    return [
      inboundSms('vonage', {
        providerMessageId: params.messageId,
        from: params.msisdn,
        to: params.to,
        text: encoding === 'binary' ? params.data : params.text,
        encoding,
        receivedAtMs: messageTimestampMs(params['message-timestamp']),
        // Carriers without concatenation send parts without these: each is then a message of its own.
        concat:
          params.concat === 'true'
            ? { ref: params['concat-ref'], total: params['concat-total'], part: params['concat-part'] }
            : undefined,
      }),
    ];
  },
  inboundAcknowledgement: EMPTY_OK,
};
