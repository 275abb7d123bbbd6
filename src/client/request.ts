import { createHash, randomUUID } from 'node:crypto';
import { assertWithinSegments, MessageTooLongError, type SegmentInfo } from '../domain/encoding';
import { DEFAULT_CALLBACK_IDLE_SECONDS, DEFAULT_SUBMIT_POLICY, type MessagePolicy, type MessageRequest } from '../domain/message';
import { KEYWORD_REPLY_VALIDITY_SECONDS } from '../domain/keyword-reply';
import { InvalidPhoneNumberError, normaliseDestination, type Destination } from '../domain/phone';
import { InvalidMessageError } from './errors';

/** The fields every message has, alone or in a batch: the same as the REST API's submit body. */
export interface MessageContent {
  /** Sender id: alphanumeric (at most 11 characters) or a number. */
  readonly from: string;
  /** The text; GSM-7 or UCS-2 is chosen from it. */
  readonly body: string;
  /**
   * Idempotency key: the same reference from the same account is always the same message, whether
   * it came through the SDK or the REST API. In a batch, each recipient's key is `clientRef:number`
   * unless the recipient has its own.
   */
  readonly clientRef?: string;
  /** Every status change is POSTed there. */
  readonly callbackUrl?: string;
  /** The message waits (status `scheduled`) until then; an ISO 8601 date-time with a zone, or a Date. */
  readonly sendAt?: string | Date;
  /** A message not submitted within this time (from `sendAt` when given) ends `expired`. */
  readonly validitySeconds?: number;
}

/** One message to one number. */
export interface MessageInput extends MessageContent {
  /** International number: `+…`, `00…` or bare E.164 digits. */
  readonly to: string;
}

/** One recipient of a batch: a number, or a number with its own client reference. */
export type BatchRecipient = string | { readonly to: string; readonly clientRef?: string };

/** The same message to many numbers. */
export interface BatchInput extends MessageContent {
  readonly recipients: readonly BatchRecipient[];
}

/** Longest value of each field, shared with the REST API's JSON schemas so both refuse the same input. */
export const FIELD_LIMITS = {
  phoneMaxLength: 32,
  clientRefMaxLength: 64,
  // Alphanumeric sender ids are at most 11 characters; numeric ones at most 15 digits and a '+'.
  fromMaxLength: 16,
  bodyMaxLength: 10_000,
  callbackUrlMaxLength: 2048,
  // Up to a week, as providers allow; each adapter raises it to its provider's own minimum.
  validitySecondsMax: 604_800,
} as const;

/** How large a message and a batch may be; the deployment's MAX_SEGMENTS and MAX_BATCH_RECIPIENTS. */
export interface SendLimits {
  /** Longest message, in SMS parts. */
  readonly maxSegments: number;
  /** Most recipients in one `sendBatch`. */
  readonly maxBatchRecipients: number;
}

/** The limits a deployment uses when its environment does not say otherwise (src/config.ts). */
export const DEFAULT_SEND_LIMITS: SendLimits = { maxSegments: 10, maxBatchRecipients: 1000 };
/** The message policy a deployment uses when its environment does not say otherwise (src/config.ts). */
export const DEFAULT_MESSAGE_POLICY: MessagePolicy = {
  maxResends: 1,
  callbackRetrySeconds: 86_400,
  callbackIdleSeconds: DEFAULT_CALLBACK_IDLE_SECONDS,
  submit: DEFAULT_SUBMIT_POLICY,
};

/** Who sends, under which limits: what turns an input into workflow requests. */
export interface RequestContext {
  readonly accountId: string;
  readonly limits: SendLimits;
  readonly policy: MessagePolicy;
  /** When the message is accepted. */
  readonly now: Date;
}

/** A message ready to start, with what identifies its content for conflict checks. */
export interface PreparedMessage {
  readonly request: MessageRequest;
  readonly fingerprint: RequestFingerprint;
  /** Position among the batch's recipients (0 for a single message). */
  readonly index: number;
  /** The field that names its number: `to`, or `recipients[i]` in a batch. */
  readonly toField: string;
}

/** A recipient of a batch that was not sent, with why. */
export interface RejectedRecipient {
  readonly index: number;
  readonly to: string;
  readonly error: { readonly code: 'invalid_number' | 'conflict'; readonly message: string; readonly field: string };
}

/** A batch's recipients, split into messages to start and numbers that cannot be sent to. */
export interface PreparedBatch {
  readonly messages: readonly PreparedMessage[];
  readonly rejected: readonly RejectedRecipient[];
}

/** The content fields a client reference must repeat exactly; a digest of each is kept in the workflow's memo. */
export const FINGERPRINT_FIELDS = ['to', 'from', 'body', 'callbackUrl', 'sendAt', 'validitySeconds'] as const;
/** One of the content fields a fingerprint covers. */
export type FingerprintField = (typeof FINGERPRINT_FIELDS)[number];
/** A short digest of each content field; a field missing from a stored fingerprint is not compared. */
export type RequestFingerprint = Readonly<Partial<Record<FingerprintField, string>>>;

/** The stored content of a message, as far as it is known: what a fingerprint is computed from. */
export type FingerprintSource = Readonly<Partial<Record<FingerprintField, string | number | Date | null>>>;

/** Digests per field, so a conflict can name the field that differs without storing the content twice. */
export function fingerprintOf(source: FingerprintSource): RequestFingerprint {
  const fingerprint: Partial<Record<FingerprintField, string>> = {};
  for (const field of FINGERPRINT_FIELDS) {
    if (!(field in source)) continue;
    const value = source[field];
    const text = value === undefined || value === null ? '' : value instanceof Date ? value.toISOString() : String(value);
    fingerprint[field] = createHash('sha256').update(text).digest('base64url').slice(0, 16);
  }
  return fingerprint;
}

/** The first field both fingerprints know and disagree on. */
export function conflictingField(stored: RequestFingerprint, current: RequestFingerprint): FingerprintField | undefined {
  return FINGERPRINT_FIELDS.find((field) => stored[field] !== undefined && current[field] !== undefined && stored[field] !== current[field]);
}

/**
 * The message id a client reference names for an account. A reference makes the id deterministic,
 * so a retried submit maps to the same workflow id and Temporal refuses to start it twice: the
 * message is never sent twice. Without a reference every message gets a fresh id.
 */
export function messageIdFor(accountId: string, clientRef: string | undefined): string {
  if (!clientRef) return randomUUID();
  return uuidOfDigest(`${accountId}\u0000${clientRef}`);
}

/**
 * The id of the reply to an inbound message: derived from it, so its workflow can start only once.
 * The key has no account before the separator, so no client reference can name the same id.
 */
export function keywordReplyMessageId(inboundId: string): string {
  return uuidOfDigest(`\u0000keyword-reply\u0000${inboundId}`);
}

/**
 * A campaign's id: derived from its client reference, so a retried submit names the same campaign
 * (and so the same message ids) and sends nothing twice; random without one.
 */
export function campaignIdFor(accountId: string, clientRef: string | undefined): string {
  if (!clientRef) return randomUUID();
  return uuidOfDigest(`\u0000campaign\u0000${accountId}\u0000${clientRef}`);
}

/**
 * The message id of a campaign's recipient: its own client reference names it as any message's
 * does; otherwise the campaign and the position do. The key starts with a separator, so no
 * account's client reference can name the same id.
 */
export function campaignMessageId(accountId: string, campaignId: string, position: number, clientRef: string | undefined): string {
  if (clientRef) return messageIdFor(accountId, clientRef);
  return uuidOfDigest(`\u0000campaign-message\u0000${campaignId}\u0000${position}`);
}

function uuidOfDigest(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The confirmation of an inbound keyword, to the handset that sent it, from the number it went to. */
export interface KeywordReplyInput {
  /** The inbound message answered. */
  readonly inboundId: string;
  readonly providerId: string;
  /** The handset: the inbound message's sender. */
  readonly to: string;
  /** Our number or short code the inbound message was sent to. */
  readonly from: string;
  readonly body: string;
}

/**
 * The request of a keyword reply, checked as any message is. Not part of the SDK's surface: only the
 * inbound activity sends these, and routing lets one reach a suppressed number only when it answers
 * that number's own opt-out (src/inbound/keyword-replies.ts).
 */
export function prepareKeywordReply(input: KeywordReplyInput, context: RequestContext): MessageRequest {
  const to = normalised(input.to, 'to');
  const content = checkContent({ from: input.from, body: input.body, validitySeconds: KEYWORD_REPLY_VALIDITY_SECONDS }, context);
  const { request } = build(to, undefined, content, context, 0, 'to');
  return { ...request, messageId: keywordReplyMessageId(input.inboundId), keywordReply: { inboundId: input.inboundId, providerId: input.providerId } };
}

const CONTENT_FIELDS = ['from', 'body', 'clientRef', 'callbackUrl', 'sendAt', 'validitySeconds'] as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A single message's request, or an InvalidMessageError naming the field. */
export function prepareMessage(input: MessageInput, context: RequestContext): PreparedMessage {
  assertObject(input, 'message');
  assertKnownFields(input, ['to', ...CONTENT_FIELDS], '');
  const to = phoneField(input.to, 'to');
  const content = checkContent(input, context);
  return build(normalised(to, 'to'), input.clientRef, content, context, 0, 'to');
}

/**
 * A batch's requests: the content is checked once, each number on its own. Invalid numbers are
 * listed in `rejected` and the others are sent; a batch with no valid number is an error.
 */
export function prepareBatch(input: BatchInput, context: RequestContext): PreparedBatch {
  assertObject(input, 'batch');
  assertKnownFields(input, ['recipients', ...CONTENT_FIELDS], '');
  if (!Array.isArray(input.recipients) || input.recipients.length === 0) {
    throw new InvalidMessageError('invalid_request', 'recipients must be a non-empty array', 'recipients');
  }
  if (input.recipients.length > context.limits.maxBatchRecipients) {
    throw new InvalidMessageError('too_many_recipients', `at most ${context.limits.maxBatchRecipients} recipients per request`, 'recipients');
  }
  const recipients = input.recipients.map((recipient, index) => recipientOf(recipient, `recipients[${index}]`));
  const content = checkContent(input, context);

  const messages: PreparedMessage[] = [];
  const rejected: RejectedRecipient[] = [];
  recipients.forEach((recipient, index) => {
    const field = `recipients[${index}]`;
    let destination: Destination;
    try {
      destination = normalised(recipient.to, field);
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) throw error;
      rejected.push({ index, to: recipient.to, error: { code: 'invalid_number', message: error.message, field } });
      return;
    }
    // In a batch, the request's reference and the number together name each recipient's message.
    const reference = recipient.clientRef ?? (input.clientRef ? `${input.clientRef}:${destination.e164}` : undefined);
    messages.push(build(destination, reference, content, context, index, field));
  });
  if (messages.length === 0) {
    const [first] = rejected;
    throw new InvalidMessageError('invalid_number', first?.error.message ?? 'no valid recipient', first?.error.field ?? 'recipients', rejected);
  }
  return { messages, rejected };
}

/** A campaign's content, checked once when it is submitted. */
export type CampaignContent = Omit<MessageContent, 'clientRef'>;

/** Checks a campaign's content as a message's is checked; throws InvalidMessageError naming the field. */
export function checkCampaignContent(input: CampaignContent, context: RequestContext): void {
  assertObject(input, 'campaign');
  checkContent(input, context);
}

/** One stored recipient of a campaign, as its start activity reads it. */
export interface CampaignRecipientInput {
  readonly position: number;
  readonly to: string;
  readonly clientRef: string | null;
  readonly messageId: string;
}

/**
 * A campaign recipient's message request, or InvalidMessageError for a number that cannot be sent
 * to: numbers are normalised when they start, not at submit, so 100,000 of them are accepted at once.
 */
export function prepareCampaignMessage(recipient: CampaignRecipientInput, content: CampaignContent, context: RequestContext): PreparedMessage {
  const field = `recipients[${recipient.position}]`;
  const prepared = build(normalised(recipient.to, field), recipient.clientRef ?? undefined, checkContent(content, context), context, recipient.position, field);
  return { ...prepared, request: { ...prepared.request, messageId: recipient.messageId } };
}

interface CheckedContent {
  readonly from: string;
  readonly body: string;
  readonly segments: SegmentInfo;
  readonly callbackUrl?: string;
  readonly sendAt?: Date;
  readonly validitySeconds?: number;
}

function build(destination: Destination, clientRef: string | undefined, content: CheckedContent, context: RequestContext, index: number, toField: string): PreparedMessage {
  const { accountId, now, policy } = context;
  const validFrom = content.sendAt && content.sendAt > now ? content.sendAt : now;
  const request: MessageRequest = {
    messageId: messageIdFor(accountId, clientRef),
    accountId,
    clientRef,
    to: destination.e164,
    country: destination.country,
    from: content.from,
    body: content.body,
    encoding: content.segments.encoding,
    segments: content.segments.segments,
    callbackUrl: content.callbackUrl,
    acceptedAt: now.toISOString(),
    sendAt: content.sendAt?.toISOString(),
    validUntil: content.validitySeconds ? new Date(validFrom.getTime() + content.validitySeconds * 1000).toISOString() : undefined,
    policy,
  };
  const fingerprint = fingerprintOf({
    to: destination.e164,
    from: content.from,
    body: content.body,
    callbackUrl: content.callbackUrl,
    sendAt: content.sendAt,
    validitySeconds: content.validitySeconds,
  });
  return { request, fingerprint, index, toField };
}

function checkContent(input: MessageContent, context: RequestContext): CheckedContent {
  const from = stringField(input.from, 'from', FIELD_LIMITS.fromMaxLength);
  const body = stringField(input.body, 'body', FIELD_LIMITS.bodyMaxLength);
  if (input.clientRef !== undefined) stringField(input.clientRef, 'clientRef', FIELD_LIMITS.clientRefMaxLength);
  return {
    from,
    body,
    segments: segmentsOf(body, context.limits.maxSegments),
    callbackUrl: input.callbackUrl === undefined ? undefined : callbackUrlField(input.callbackUrl),
    sendAt: input.sendAt === undefined ? undefined : dateTimeField(input.sendAt, 'sendAt'),
    validitySeconds: input.validitySeconds === undefined ? undefined : integerField(input.validitySeconds, 'validitySeconds', 1, FIELD_LIMITS.validitySecondsMax),
  };
}

function recipientOf(recipient: BatchRecipient, field: string): { to: string; clientRef?: string } {
  if (typeof recipient === 'string') return { to: phoneField(recipient, field) };
  assertObject(recipient, field);
  assertKnownFields(recipient, ['to', 'clientRef'], `${field}.`);
  const to = phoneField(recipient.to, `${field}.to`);
  if (recipient.clientRef === undefined) return { to };
  return { to, clientRef: stringField(recipient.clientRef, `${field}.clientRef`, FIELD_LIMITS.clientRefMaxLength) };
}

function normalised(to: string, field: string): Destination {
  try {
    return normaliseDestination(to);
  } catch (error) {
    if (error instanceof InvalidPhoneNumberError) throw new InvalidMessageError('invalid_number', error.message, field);
    throw error;
  }
}

function segmentsOf(body: string, maxSegments: number): SegmentInfo {
  try {
    return assertWithinSegments(body, maxSegments);
  } catch (error) {
    if (error instanceof MessageTooLongError) {
      throw new InvalidMessageError('body_too_long', `body needs ${error.segments} SMS parts; the maximum is ${error.maxSegments}`, 'body');
    }
    throw error;
  }
}

function assertObject(value: unknown, what: string): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidMessageError('invalid_request', `${what} must be an object`, what);
  }
}

/** An unknown field is a caller's bug worth reporting (a misspelt `clientref` would lose idempotency). */
function assertKnownFields(value: object, known: readonly string[], prefix: string): void {
  const unknown = Object.keys(value).find((key) => !known.includes(key) && (value as Record<string, unknown>)[key] !== undefined);
  if (unknown !== undefined) throw new InvalidMessageError('invalid_request', `unknown field ${prefix}${unknown}`, `${prefix}${unknown}`);
}

function stringField(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new InvalidMessageError('invalid_request', `${field} must be a string of 1 to ${maxLength} characters`, field);
  }
  return value;
}

function phoneField(value: unknown, field: string): string {
  return stringField(value, field, FIELD_LIMITS.phoneMaxLength);
}

function callbackUrlField(value: unknown): string {
  const text = stringField(value, 'callbackUrl', FIELD_LIMITS.callbackUrlMaxLength);
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:\/\//.test(text)) throw new InvalidMessageError('invalid_request', 'callbackUrl must be an http:// or https:// URL', 'callbackUrl');
  return text;
}

function dateTimeField(value: unknown, field: string): Date {
  const date = value instanceof Date ? value : typeof value === 'string' && RFC3339.test(value) ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new InvalidMessageError('invalid_request', `${field} must be an ISO 8601 date-time with a zone, e.g. 2026-12-24T18:00:00Z`, field);
  }
  return date;
}

function integerField(value: unknown, field: string, minimum: number, maximum: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > maximum) {
    throw new InvalidMessageError('invalid_request', `${field} must be an integer from ${minimum} to ${maximum}`, field);
  }
  return value;
}
