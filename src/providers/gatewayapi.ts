import { createHmac } from 'node:crypto';
import type { DeliveryReportStatus } from '../domain/status';
import { AmbiguousSubmitError, DeliveryReportAuthError, DeliveryReportFormatError, InboundFormatError } from './errors';
import { EMPTY_OK, inboundSms } from './shared/inbound';
import { checkedDeliveryReport, optionalReportField, preview } from './shared/delivery-report';
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
import { basicAuthorization, constantTimeEqual, headerValue, msisdnDigits, requireCredential } from './shared/wire';
import type { Credentials, DeliveryReport, HttpResponse, InboundAdapter, InboundCallback, InboundSms, ProviderAdapter, SubmitOutcome } from './types';

/**
 * GatewayAPI classic REST, `POST /rest/mtsms` (PROVIDERS.md §3a): https://gatewayapi.com/docs/apis/rest/
 * Credentials: { token, webhookSecret? }.
 */

/**
 * API error codes: https://gatewayapi.com/docs/apis/rest/#error-codes (onlinecity/gatewayapi-docs
 * docs/errors.rst). Codes whose low byte is 0x00-0x0F mean the same whatever their origin; the
 * API-origin ones we can meet are listed with the specific ones.
 */
const SUBMIT_ERRORS: Readonly<Record<string, SubmitErrorEntry>> = {
  '0x0201': { kind: 'permanent', reason: 'unknown error' },
  '0x0205': { kind: 'transient', reason: 'shutting down' },
  '0x0206': { kind: 'transient', reason: 'insufficient resources' },
  '0x0209': { kind: 'transient', reason: 'resource temporarily unavailable' },
  '0x0308': { kind: 'permanent', reason: 'invalid argument' },
  '0x0210': { kind: 'permanent', reason: 'invalid username' },
  '0x0211': { kind: 'permanent', reason: 'invalid password' },
  '0x0212': { kind: 'permanent', reason: 'invalid IP address' },
  '0x0213': { kind: 'permanent', reason: 'unauthorized IP address' },
  '0x0214': { kind: 'permanent', reason: 'recipient temporarily blacklisted' },
  '0x0215': { kind: 'permanent', reason: 'recipient blacklisted' },
  '0x0216': { kind: 'permanent', reason: 'insufficient credit' },
  '0x0217': { kind: 'permanent', reason: 'unauthorized destination country' },
  '0x021D': { kind: 'permanent', reason: 'SMS not enabled for account' },
  '0x0220': { kind: 'permanent', reason: 'unsupported parameter' },
  '0x0222': { kind: 'permanent', reason: 'missing required parameter' },
  '0x0223': { kind: 'permanent', reason: 'invalid consumer key' },
  '0x0224': { kind: 'permanent', reason: 'invalid signature' },
  '0x0225': { kind: 'permanent', reason: 'expired timestamp' },
  '0x0226': { kind: 'permanent', reason: 'invalid or used nonce' },
  '0x0229': { kind: 'permanent', reason: 'bad credentials' },
  '0x0310': { kind: 'permanent', reason: 'duplicate recipient' },
  '0x0312': { kind: 'permanent', reason: 'content filtered' },
};

/**
 * DSN `status`: https://gatewayapi.com/docs/apis/rest/#delivery-status-notification
 * UNKNOWN is where every message starts, so it is transient here, not our final `unknown`.
 */
const DLR_STATUSES: Readonly<Record<string, DeliveryReportStatus>> = {
  UNKNOWN: 'enroute',
  SCHEDULED: 'enroute',
  BUFFERED: 'buffered',
  ENROUTE: 'enroute',
  DELIVERED: 'delivered',
  EXPIRED: 'expired',
  // Cancelled before it was sent.
  DELETED: 'rejected',
  UNDELIVERABLE: 'undelivered',
  // Final: the network took it "on the end user's behalf", with no word from the handset.
  ACCEPTED: 'unknown',
  REJECTED: 'rejected',
  // Deliberately ignored under network-specific rules.
  SKIPPED: 'rejected',
};

/**
 * DSN `code` (SMS errors): https://gatewayapi.com/docs/apis/rest/#error-codes. Codes not listed
 * still reach the report, with GatewayAPI's own `error` text. `otherRoute` is ours (interp.): true
 * for routing, network and SMSC failures, false where the subscriber or the content is the cause.
 */
const DLR_ERRORS: Readonly<Record<string, DeliveryErrorEntry>> = {
  '0x1010': { reason: 'unknown subscriber', otherRoute: false },
  '0x1011': { reason: 'call barred', otherRoute: false },
  '0x1013': { reason: 'absent subscriber', otherRoute: false },
  '0x1015': { reason: 'HLR system failure', otherRoute: true },
  '0x1019': { reason: 'mobile subscriber not reachable', otherRoute: false },
  '0x101A': { reason: 'VLR system failure', otherRoute: true },
  '0x101B': { reason: 'HLR internal error', otherRoute: true },
  '0x1023': { reason: 'subscriber busy for MT SMS', otherRoute: false },
  '0x1027': { reason: 'MSC system failure', otherRoute: true },
  '0x102E': { reason: 'MSC internal error', otherRoute: true },
  '0x1030': { reason: 'screening block', otherRoute: false },
  '0x1034': { reason: 'destination blocked', otherRoute: false },
  '0x1042': { reason: 'SMSC system failure', otherRoute: true },
  '0x1047': { reason: 'service centre congestion', otherRoute: true },
  '0x104A': { reason: 'SMSC internal error', otherRoute: true },
  '0x1050': { reason: 'internal routing error', otherRoute: true },
  '0x1053': { reason: 'message not delivered', otherRoute: true },
  '0x1054': { reason: 'dialling zone not found', otherRoute: true },
  '0x1057': { reason: 'destination network type unknown', otherRoute: true },
  '0x1060': { reason: 'invalid destination address', otherRoute: false },
  '0x106A': { reason: 'ESME receiver temporary error', otherRoute: true },
  '0x1080': { reason: 'message queue full', otherRoute: true },
  '0x1084': { reason: 'invalid mobile subscriber', otherRoute: false },
  '0x1085': { reason: 'short message exceeds maximum', otherRoute: false },
  '0x1090': { reason: 'internal error', otherRoute: true },
  '0x1091': { reason: 'network time-out', otherRoute: true },
  '0x1092': { reason: 'operation barred: insufficient funds', otherRoute: false },
  '0x1093': { reason: 'illegal mobile subscriber: blocked', otherRoute: false },
};

const VALIDITY_MIN_S = 60;

/** The DSN fields we act on: a signed token must repeat each of them exactly as the body has it. */
const SIGNED_FIELDS = ['id', 'msisdn', 'time', 'status', 'error', 'code', 'userref'] as const;

/** GatewayAPI's own JWT header, byte for byte, so our tokens match theirs. */
const JWT_HEADER = base64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));

/** `X-Gwapi-Signature`: an HS256 JWT of the DSN (plus `callback_url` and `api`) keyed with the webhook's token. */
export function gatewayApiSignature(payload: Readonly<Record<string, unknown>>, secret: string): string {
  const signingInput = `${JWT_HEADER}.${base64url(JSON.stringify(payload))}`;
  return `${signingInput}.${hs256(secret, signingInput)}`;
}

export const gatewayApiAdapter: ProviderAdapter = {
  name: 'gatewayapi',

  buildSubmitRequest(sms, credentials) {
    const token = requireCredential(credentials, 'token', 'gatewayapi');
    return {
      method: 'POST',
      path: '/rest/mtsms',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: basicAuthorization(token, ''),
      },
      body: JSON.stringify({
        sender: sms.from,
        message: sms.body,
        // UTF8, the default, goes out as GSM 03.38.
        encoding: sms.encoding === 'ucs2' ? 'UCS2' : undefined,
        userref: sms.messageId,
        validity_period: sms.validitySeconds === undefined ? undefined : Math.max(VALIDITY_MIN_S, Math.round(sms.validitySeconds)),
        callback_url: sms.deliveryReportUrl,
        recipients: [{ msisdn: Number(msisdnDigits(sms.to)) }],
      }),
    };
  },

  classifySubmitResponse(response: HttpResponse): SubmitOutcome {
    const parsed = parseJsonObject(response.body);
    if (isSuccessStatus(response.statusCode)) {
      // One message object per request, so one id, shared by its single recipient.
      const ids = parsed?.ids;
      const id = Array.isArray(ids) && ids.length === 1 ? scalarText(ids[0]) : undefined;
      if (id) return { kind: 'accepted', providerMessageIds: [id] };
      throw new AmbiguousSubmitError(`gatewayapi answered ${response.statusCode} without exactly one message id`);
    }
    const code = scalarText(parsed?.code);
    const entry = code === undefined ? undefined : SUBMIT_ERRORS[code];
    const message = scalarText(parsed?.message);
    const reason = message === undefined ? (entry?.reason ?? `HTTP ${response.statusCode}`) : fillVariables(message, parsed?.variables);
    const outcomeCode = code === undefined ? `gatewayapi:http_${response.statusCode}` : `gatewayapi:${code}`;
    return failedSubmit(failureKind(response.statusCode, entry), outcomeCode, reason, response);
  },

  verifiesSignatures(credentials: Credentials): boolean {
    return Boolean(credentials.webhookSecret);
  },

  parseDeliveryReport(callback: InboundCallback, credentials: Credentials): DeliveryReport[] {
    const webhookSecret: string | undefined = credentials.webhookSecret;
    const signed = webhookSecret ? verifiedToken(headerValue(callback.headers, 'x-gwapi-signature'), webhookSecret) : undefined;
    const dsn = parseJsonObject(callback.rawBody);
    if (!dsn) throw new DeliveryReportFormatError('gatewayapi DSN is not a JSON object');
    if (signed) requireSignedBody(signed, dsn);
    return [checkedDeliveryReport(toDeliveryReport(dsn))];
  },
};

/** A valid token proves GatewayAPI sent that token, not this body: a replayed token must not vouch for another DSN. */
function requireSignedBody(signed: Readonly<Record<string, unknown>>, dsn: Readonly<Record<string, unknown>>): void {
  const differing = SIGNED_FIELDS.find((field) => (signed[field] ?? null) !== (dsn[field] ?? null));
  if (differing) throw new DeliveryReportAuthError(`gatewayapi signature does not cover this DSN's "${differing}"`);
}

function toDeliveryReport(dsn: Readonly<Record<string, unknown>>): DeliveryReport {
  const providerMessageId = optionalReportField(dsn, 'id');
  if (!providerMessageId) throw new DeliveryReportFormatError('gatewayapi DSN has no id');
  const providerStatus = optionalReportField(dsn, 'status') ?? '';
  const status = DLR_STATUSES[providerStatus];
  if (!status) throw new DeliveryReportFormatError(`gatewayapi DSN status "${preview(providerStatus)}" is unknown`);
  const code = optionalReportField(dsn, 'code');
  const time = dsn.time;
  return {
    messageId: optionalReportField(dsn, 'userref') || undefined,
    // Keyed on id alone: we send one recipient per message object.
    providerMessageId,
    status,
    providerStatus,
    ...(code ? deliveryError(`gatewayapi:${code}`, DLR_ERRORS[code], optionalReportField(dsn, 'error')) : {}),
    occurredAt: occurredAt(typeof time === 'number' ? time * 1000 : undefined),
  };
}

/** The token's payload once its HS256 signature checks out; anything else is an auth failure. */
function verifiedToken(token: string | undefined, secret: string): Record<string, unknown> {
  if (!token) throw new DeliveryReportAuthError('gatewayapi DSN has no X-Gwapi-Signature');
  const parts = token.split('.');
  if (parts.length !== 3) throw new DeliveryReportAuthError('gatewayapi X-Gwapi-Signature is not a JWT');
  const [header, payload, signature] = parts;
  // Only HS256: accepting the token's own choice of alg is how "alg: none" forgeries get in.
  if (parseJsonObject(Buffer.from(header, 'base64url').toString('utf8'))?.alg !== 'HS256') {
    throw new DeliveryReportAuthError('gatewayapi X-Gwapi-Signature is not HS256');
  }
  if (!constantTimeEqual(hs256(secret, `${header}.${payload}`), signature)) {
    throw new DeliveryReportAuthError('gatewayapi X-Gwapi-Signature does not match');
  }
  const claims = parseJsonObject(Buffer.from(payload, 'base64url').toString('utf8'));
  if (!claims) throw new DeliveryReportAuthError('gatewayapi X-Gwapi-Signature payload is not a JSON object');
  requireCurrentClaims(claims, Date.now() / 1000);
  return claims;
}

/** Clocks differ a little between GatewayAPI and us; more than this is a stale or forged token. */
const JWT_CLOCK_SKEW_SECONDS = 60;

/**
 * `exp` and `iat`, where the token has them (the documented sample has neither): an expired token,
 * or one issued in the future, is refused, so a captured token cannot be replayed for ever.
 */
function requireCurrentClaims(claims: Readonly<Record<string, unknown>>, nowSeconds: number): void {
  const { exp, iat } = claims;
  if (exp !== undefined && !(typeof exp === 'number' && nowSeconds <= exp + JWT_CLOCK_SKEW_SECONDS)) {
    throw new DeliveryReportAuthError('gatewayapi X-Gwapi-Signature has expired');
  }
  if (iat !== undefined && !(typeof iat === 'number' && iat <= nowSeconds + JWT_CLOCK_SKEW_SECONDS)) {
    throw new DeliveryReportAuthError('gatewayapi X-Gwapi-Signature is issued in the future');
  }
}

/** Error messages carry `%1`, `%2`... placeholders for their `variables`. */
function fillVariables(message: string, variables: unknown): string {
  if (!Array.isArray(variables)) return message;
  return message.replace(/%(\d+)/g, (placeholder, index: string) => scalarText(variables[Number(index) - 1]) ?? placeholder);
}

function hs256(secret: string, input: string): string {
  return createHmac('sha256', secret).update(input).digest('base64url');
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

// ---- Inbound SMS, "MO SMS" (PROVIDERS.md §5c) ----
// https://gatewayapi.com/docs/webhooks. JSON POST, signed with the same HS256 JWT as DSNs.

/** MO fields a signed token must repeat exactly; the claims GatewayAPI sends for MO are unconfirmed. */
const SIGNED_INBOUND_FIELDS = ['id', 'msisdn', 'receiver', 'message'] as const;

/** Claims about the webhook, not the message: they have no counterpart in the body. */
const WEBHOOK_CLAIMS: ReadonlySet<string> = new Set(['callback_url', 'api']);

export const gatewayApiInbound: InboundAdapter = {
  parseInbound(callback: InboundCallback, credentials: Credentials): InboundSms[] {
    const webhookSecret: string | undefined = credentials.webhookSecret;
    const signed = webhookSecret ? verifiedToken(headerValue(callback.headers, 'x-gwapi-signature'), webhookSecret) : undefined;
    const mo = parseJsonObject(callback.rawBody);
    if (!mo) throw new InboundFormatError('gatewayapi MO SMS is not a JSON object');
    if (signed) requireSignedInbound(signed, mo);
    const sentTime = mo.senttime;
    return [
      inboundSms('gatewayapi', {
        providerMessageId: scalarText(mo.id),
        from: scalarText(mo.msisdn),
        // A short code with its country prefix (451204 is 1204 in Denmark): stored as those digits.
        to: scalarText(mo.receiver),
        text: scalarText(mo.message),
        encoding: scalarText(mo.encoding)?.toUpperCase() === 'UCS2' ? 'ucs2' : 'gsm7',
        receivedAtMs: typeof sentTime === 'number' ? sentTime * 1000 : undefined,
      }),
    ];
  },
  inboundAcknowledgement: EMPTY_OK,
};

/** Each MO field must be signed, and every other message claim present must agree with the body. */
function requireSignedInbound(signed: Readonly<Record<string, unknown>>, mo: Readonly<Record<string, unknown>>): void {
  const unsigned = SIGNED_INBOUND_FIELDS.find((field) => signed[field] === undefined);
  if (unsigned) throw new DeliveryReportAuthError(`gatewayapi signature does not cover this MO SMS's "${unsigned}"`);
  const differing = Object.keys(signed).find((claim) => !WEBHOOK_CLAIMS.has(claim) && !sameJson(signed[claim], mo[claim]));
  if (differing) throw new DeliveryReportAuthError(`gatewayapi signature does not cover this MO SMS's "${differing}"`);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
