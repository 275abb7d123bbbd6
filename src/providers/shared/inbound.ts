import { InvalidPhoneNumberError, normaliseInboundAddress } from '../../domain/phone';
import { InboundFormatError } from '../errors';
import type { InboundAcknowledgement, InboundConcatPart, InboundEncoding, InboundSms } from '../types';

/**
 * Bounds every adapter holds an inbound message to, whatever its provider allows: a field past
 * them is a malformed callback (4xx), never a row we store. Twilio's longest body is 1,600
 * characters; a binary payload in base64 needs about a third more.
 */
export const INBOUND_LIMITS = {
  textChars: 2_200,
  idChars: 128,
  addressChars: 32,
  concatRefChars: 64,
  maxParts: 255,
} as const;

/** 200 with an empty body: what Vonage and GatewayAPI accept as "stored, do not resend". */
export const EMPTY_OK: InboundAcknowledgement = { statusCode: 200 };

/** The fields an adapter read from its wire format, before bounds and normalisation. */
export interface InboundFields {
  readonly providerMessageId: string | undefined;
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly text: string | undefined;
  readonly encoding: InboundEncoding;
  readonly receivedAtMs: number | undefined;
  readonly concat?: { readonly ref: string | undefined; readonly total: string | undefined; readonly part: string | undefined };
  readonly providerOptOut?: InboundSms['providerOptOut'];
}

/** Checks and normalises what an adapter read; `provider` names it in the error messages. */
export function inboundSms(provider: string, fields: InboundFields): InboundSms {
  const providerMessageId = boundedText(provider, 'message id', fields.providerMessageId, INBOUND_LIMITS.idChars);
  if (providerMessageId.length === 0) throw new InboundFormatError(`${provider} inbound message has no message id`);
  const receivedAt = new Date(fields.receivedAtMs ?? Date.now());
  return {
    providerMessageId,
    from: address(provider, 'sender', fields.from),
    to: address(provider, 'receiving number', fields.to),
    text: boundedText(provider, 'text', fields.text, INBOUND_LIMITS.textChars),
    encoding: fields.encoding,
    receivedAt: Number.isNaN(receivedAt.getTime()) ? new Date().toISOString() : receivedAt.toISOString(),
    ...(fields.concat ? { concat: concatPart(provider, fields.concat) } : {}),
    ...(fields.providerOptOut ? { providerOptOut: fields.providerOptOut } : {}),
  };
}

function boundedText(provider: string, field: string, value: string | undefined, maxChars: number): string {
  if (value === undefined) throw new InboundFormatError(`${provider} inbound message has no ${field}`);
  if (value.length > maxChars) throw new InboundFormatError(`${provider} inbound ${field} is longer than ${maxChars} characters`);
  // PostgreSQL text cannot hold NUL, and no handset sends one in a text: a NUL is an attack or a bug.
  if (value.includes('\u0000')) throw new InboundFormatError(`${provider} inbound ${field} contains a NUL byte`);
  return value;
}

function address(provider: string, field: string, value: string | undefined): string {
  const text = boundedText(provider, field, value, INBOUND_LIMITS.addressChars);
  try {
    return normaliseInboundAddress(text);
  } catch (error) {
    if (error instanceof InvalidPhoneNumberError) throw new InboundFormatError(`${provider} inbound ${field} "${text}" is not a number`);
    throw error;
  }
}

function concatPart(provider: string, concat: NonNullable<InboundFields['concat']>): InboundConcatPart {
  const ref = boundedText(provider, 'concat ref', concat.ref, INBOUND_LIMITS.concatRefChars);
  const total = Number(concat.total);
  const part = Number(concat.part);
  const valid = ref.length > 0 && Number.isInteger(total) && Number.isInteger(part) && total >= 1 && total <= INBOUND_LIMITS.maxParts && part >= 1 && part <= total;
  if (!valid) throw new InboundFormatError(`${provider} inbound concat fields are not a part of a message (ref, total 1-${INBOUND_LIMITS.maxParts}, part 1-total)`);
  return { ref, total, part };
}
