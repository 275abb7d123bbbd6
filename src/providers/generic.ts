import type { DeliveryReportStatus } from '../domain/status';
import { AmbiguousSubmitError, DeliveryReportAuthError, DeliveryReportFormatError, InboundFormatError } from './errors';
import { inboundSms } from './shared/inbound';
import { checkedDeliveryReport, optionalReportField, preview } from './shared/delivery-report';
import { retryAfterMs } from './shared/http';
import { isRecord, parseJsonObject, scalarText } from './shared/json';
import { constantTimeEqual, headerValue } from './shared/wire';
import type { Credentials, DeliveryReport, HttpResponse, InboundAdapter, InboundCallback, InboundEncoding, InboundSms, ProviderAdapter, SubmitOutcome } from './types';

/**
 * smsrouter's own JSON format, for providers (and our simulator) that take a plain JSON API.
 *
 * Submit: POST {base}/messages, `Authorization: Bearer <apiKey>`,
 *   {"to","from","text","encoding","reference","callbackUrl","validitySeconds"?} → 2xx {"id"}.
 *   Errors: {"error":{"code","message"}} with 4xx (permanent), 429 + Retry-After, 5xx (transient).
 * DLR: POST JSON {"id","reference","status","errorCode"?,"errorMessage"?,"timestamp"?}, with the
 *   per-provider secret in the `X-Dlr-Secret` header or the `secret` query parameter.
 *
 * Credentials: { apiKey, dlrSecret? }.
 */

const STATUS_TABLE: Readonly<Record<string, DeliveryReportStatus>> = {
  enroute: 'enroute',
  buffered: 'buffered',
  delivered: 'delivered',
  undelivered: 'undelivered',
  rejected: 'rejected',
  expired: 'expired',
  unknown: 'unknown',
};

/** Error codes after which another route may still reach the handset. */
const RETRYABLE_ON_OTHER_ROUTE: ReadonlySet<string> = new Set(['network_error', 'unroutable', 'routing_error']);

interface GenericDlr {
  id: string;
  reference?: string;
  status: string;
  errorCode?: string;
  errorMessage?: string;
  timestamp?: string;
}

export const genericAdapter: ProviderAdapter = {
  name: 'generic',

  buildSubmitRequest(sms, credentials) {
    return {
      method: 'POST',
      path: '/messages',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${credentials.apiKey ?? ''}` },
      body: JSON.stringify({
        to: sms.to,
        from: sms.from,
        text: sms.body,
        encoding: sms.encoding,
        reference: sms.messageId,
        callbackUrl: sms.deliveryReportUrl,
        validitySeconds: sms.validitySeconds,
      }),
    };
  },

  classifySubmitResponse(response: HttpResponse): SubmitOutcome {
    const parsed = parseJsonObject(response.body);
    if (response.statusCode >= 200 && response.statusCode < 300) {
      const id = parsed?.id;
      if (typeof id === 'string' && id.length > 0) return { kind: 'accepted', providerMessageIds: [id] };
      throw new AmbiguousSubmitError(`provider answered ${response.statusCode} without a message id`);
    }
    const error = parsed?.error;
    const code = isRecord(error) && typeof error.code === 'string' ? error.code : `http_${response.statusCode}`;
    const reason = isRecord(error) && typeof error.message === 'string' ? error.message : `HTTP ${response.statusCode}`;
    if (response.statusCode === 429 || response.statusCode >= 500) {
      return { kind: 'transient', code: `generic:${code}`, reason, retryAfterMs: retryAfterMs(response.headers) };
    }
    return { kind: 'permanent', code: `generic:${code}`, reason };
  },

  verifiesSignatures(credentials: Credentials): boolean {
    return Boolean(credentials.dlrSecret);
  },

  parseDeliveryReport(callback: InboundCallback, credentials: Credentials): DeliveryReport[] {
    authenticate(callback, credentials);
    const parsed = parseJsonObject(callback.rawBody);
    if (!parsed) throw new DeliveryReportFormatError('delivery report body is not a JSON object');
    const dlr = toGenericDlr(parsed);
    const status = STATUS_TABLE[dlr.status];
    if (!status) throw new DeliveryReportFormatError(`unknown delivery report status "${preview(dlr.status)}"`);
    return [
      checkedDeliveryReport({
        messageId: dlr.reference,
        providerMessageId: dlr.id,
        status,
        providerStatus: dlr.status,
        errorCode: dlr.errorCode,
        errorReason: dlr.errorMessage,
        retryableOnOtherRoute: dlr.errorCode !== undefined && RETRYABLE_ON_OTHER_ROUTE.has(dlr.errorCode),
        occurredAt: normaliseTimestamp(dlr.timestamp),
      }),
    ];
  },
};

function authenticate(callback: InboundCallback, credentials: Credentials): void {
  const expected = credentials.dlrSecret;
  if (!expected) return;
  const presented = headerValue(callback.headers, 'x-dlr-secret') ?? new URL(callback.url).searchParams.get('secret') ?? '';
  if (!constantTimeEqual(expected, presented)) {
    throw new DeliveryReportAuthError('delivery report secret missing or wrong');
  }
}

function toGenericDlr(value: Record<string, unknown>): GenericDlr {
  const { id, status } = value;
  if (typeof id !== 'string' || id.length === 0) throw new DeliveryReportFormatError('delivery report has no "id"');
  if (typeof status !== 'string') throw new DeliveryReportFormatError('delivery report has no "status"');
  return {
    id,
    status,
    reference: optionalString(value, 'reference'),
    errorCode: optionalString(value, 'errorCode'),
    errorMessage: optionalString(value, 'errorMessage'),
    timestamp: optionalString(value, 'timestamp'),
  };
}

function normaliseTimestamp(value: string | undefined): string {
  const parsed = value ? new Date(value) : undefined;
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed.toISOString() : new Date().toISOString();
}

/** Our own format says strings: a number or an object there is a malformed report. */
function optionalString(fields: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = fields[name];
  if (value !== undefined && value !== null && typeof value !== 'string') {
    throw new DeliveryReportFormatError(`delivery report field "${name}" is not a string`);
  }
  return optionalReportField(fields, name) || undefined;
}

// ---- Inbound SMS (PROVIDERS.md §5e) ----
// POST JSON {"id","from","to","text","encoding"?,"receivedAt"?,"concat"?: {"ref","total","part"}},
// authenticated like our DLRs; answered 204.

const INBOUND_ENCODINGS: ReadonlyMap<string, InboundEncoding> = new Map([
  ['gsm7', 'gsm7'],
  ['ucs2', 'ucs2'],
  ['binary', 'binary'],
]);

export const genericInbound: InboundAdapter = {
  parseInbound(callback: InboundCallback, credentials: Credentials): InboundSms[] {
    authenticate(callback, credentials);
    const parsed = parseJsonObject(callback.rawBody);
    if (!parsed) throw new InboundFormatError('inbound message body is not a JSON object');
    const encoding = parsed.encoding === undefined ? 'gsm7' : INBOUND_ENCODINGS.get(String(parsed.encoding));
    if (!encoding) throw new InboundFormatError('inbound message "encoding" must be gsm7, ucs2 or binary');
    const { concat } = parsed;
    if (concat !== undefined && !isRecord(concat)) throw new InboundFormatError('inbound message "concat" must be an object');
    const receivedAt = parsed.receivedAt === undefined ? undefined : Date.parse(String(parsed.receivedAt));
    if (Number.isNaN(receivedAt)) throw new InboundFormatError('inbound message "receivedAt" is not an ISO 8601 time');
    return [
      inboundSms('generic', {
        providerMessageId: stringField(parsed, 'id'),
        from: stringField(parsed, 'from'),
        to: stringField(parsed, 'to'),
        text: stringField(parsed, 'text'),
        encoding,
        receivedAtMs: receivedAt,
        concat: concat ? { ref: scalarText(concat.ref), total: scalarText(concat.total), part: scalarText(concat.part) } : undefined,
      }),
    ];
  },
  inboundAcknowledgement: { statusCode: 204 },
};

function stringField(value: Readonly<Record<string, unknown>>, field: string): string | undefined {
  const text = value[field];
  if (text !== undefined && typeof text !== 'string') throw new InboundFormatError(`inbound message "${field}" must be a string`);
  return text;
}
