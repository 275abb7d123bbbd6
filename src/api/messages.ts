import type { Client } from '@temporalio/client';
import type { FastifyPluginAsync } from 'fastify';
import {
  FIELD_LIMITS,
  InvalidMessageError,
  MessageConflictError,
  MessageNotFoundError,
  SmsRouterClient,
  type AcceptedMessage,
  type BatchRecipient,
  type KnownMessageLookup,
  type MessageContent,
  type RejectedRecipient,
} from '../client';
import type { SubmitQuota } from '../accounts/quota';
import { checkCallbackUrl } from '../callbacks/address-policy';
import type { Database } from '../db/client';
import type { MessagePolicy } from '../domain/message';
import type { RoutingCatalog } from '../routing/catalog';
import { MESSAGE_STATUSES } from '../domain/status';
import type { ApiKeyAuthenticator } from './auth';
import { ApiError, errorResponses } from './errors';
import type { ApiMetrics } from './metrics';

export interface MessagesPluginOptions {
  readonly db: Database;
  readonly temporal: Client;
  readonly auth: ApiKeyAuthenticator;
  readonly maxSegments: number;
  readonly maxBatchRecipients: number;
  readonly policy: MessagePolicy;
  readonly metrics: ApiMetrics;
  readonly quota: SubmitQuota;
  readonly allowPrivateCallbacks: boolean;
  /** Messages take their first route when accepted: their workflows submit without a routing step. */
  readonly catalog: RoutingCatalog;
}

interface SubmitBody extends Omit<MessageContent, 'sendAt'> {
  to?: string;
  recipients?: BatchRecipient[];
  sendAt?: string;
}

// PostgreSQL text cannot hold NUL: refused by the schema, it is a 400 instead of a failed write.
const NO_NUL = '^[^\\u0000]*$';
export const phone = { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.phoneMaxLength } as const;
export const clientRef = { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.clientRefMaxLength, pattern: NO_NUL } as const;
const nullableString = { type: ['string', 'null'] } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const status = { type: 'string', enum: MESSAGE_STATUSES } as const;
export const security = [{ apiKey: [] }];
export const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128, pattern: NO_NUL } } } as const;

/** The content fields of a submit, shared with the campaigns' submit. */
export const contentProperties = {
  from: { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.fromMaxLength, pattern: NO_NUL },
  body: { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.bodyMaxLength, pattern: NO_NUL },
  clientRef,
  callbackUrl: { type: 'string', format: 'uri', pattern: '^https?://', maxLength: FIELD_LIMITS.callbackUrlMaxLength },
  sendAt: { type: 'string', format: 'date-time' },
  validitySeconds: { type: 'integer', minimum: 1, maximum: FIELD_LIMITS.validitySecondsMax },
} as const;

const submitSchema = {
  tags: ['messages'],
  summary: 'Send a message to one number or many',
  security,
  body: {
    type: 'object',
    required: ['from', 'body'],
    additionalProperties: false,
    properties: {
      to: phone,
      recipients: {
        type: 'array',
        minItems: 1,
        items: {
          anyOf: [phone, { type: 'object', required: ['to'], additionalProperties: false, properties: { to: phone, clientRef } }],
        },
      },
      ...contentProperties,
    },
  },
  response: {
    202: {
      type: 'object',
      required: ['messages'],
      properties: {
        messages: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'to', 'status'],
            properties: { id: { type: 'string' }, to: { type: 'string' }, status: { type: 'string', enum: ['accepted', 'scheduled'] }, duplicate: { type: 'boolean' } },
          },
        },
        errors: {
          type: 'array',
          items: {
            type: 'object',
            required: ['index', 'to', 'error'],
            properties: { index: { type: 'integer' }, to: { type: 'string' }, error: errorResponses['4xx'].properties.error },
          },
        },
      },
    },
    ...errorResponses,
  },
} as const;

const eventView = {
  type: 'object',
  required: ['sequence', 'status', 'occurredAt'],
  properties: {
    sequence: { type: 'integer' },
    status,
    providerId: nullableString,
    providerMessageId: nullableString,
    country: nullableString,
    errorCode: nullableString,
    reason: nullableString,
    occurredAt: { type: 'string', format: 'date-time' },
  },
} as const;

// A response schema is an allowlist: the owning account and the rows' internal ids never leave.
const messageView = {
  type: 'object',
  required: ['id', 'status', 'events'],
  properties: {
    id: { type: 'string' },
    clientRef: nullableString,
    to: { type: 'string' },
    from: { type: 'string' },
    body: { type: 'string' },
    encoding: { type: 'string', enum: ['gsm7', 'ucs2'] },
    segments: { type: 'integer' },
    country: nullableString,
    status,
    providerId: nullableString,
    providerMessageId: nullableString,
    errorCode: nullableString,
    errorReason: nullableString,
    callbackUrl: nullableString,
    sendAt: nullableDateTime,
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    submittedAt: nullableDateTime,
    completedAt: nullableDateTime,
    events: { type: 'array', items: eventView },
  },
} as const;

const readSchema = { tags: ['messages'], summary: 'A message and its status history', security, params: idParams, response: { 200: messageView, ...errorResponses } } as const;

const cancelSchema = {
  tags: ['messages'],
  summary: 'Cancel a message that has not reached a provider yet',
  security,
  params: idParams,
  response: { 200: { type: 'object', required: ['id', 'status'], properties: { id: { type: 'string' }, status } }, ...errorResponses },
} as const;

/**
 * `POST /v1/messages` (one or many recipients), `GET` and `DELETE /v1/messages/:id`: an API key in
 * front of the SDK, which validates, names and starts every message exactly as it does for its
 * own callers. PostgreSQL adds what Temporal forgets after its retention period.
 */
export const messagesPlugin: FastifyPluginAsync<MessagesPluginOptions> = async (app, options) => {
  const { db, temporal, auth } = options;
  const knownMessages = knownMessagesIn(db);
  const sdkFor = (accountId: string) =>
    new SmsRouterClient({
      client: temporal,
      accountId,
      limits: { maxSegments: options.maxSegments, maxBatchRecipients: options.maxBatchRecipients },
      policy: options.policy,
      knownMessages,
      routeAtAcceptance: options.catalog.routeAtAcceptance,
    });

  app.post<{ Body: SubmitBody }>('/v1/messages', { schema: submitSchema }, async (request, reply) => {
    const accountId = await auth.accountFor(request);
    const sdk = sdkFor(accountId);
    const { to, recipients, ...content } = request.body;
    if (to !== undefined && recipients !== undefined) throw new ApiError(400, 'invalid_request', 'give either "to" or "recipients", not both', 'recipients');
    if (content.callbackUrl) checkCallbackUrl(content.callbackUrl, options.allowPrivateCallbacks);
    // Every recipient of the request counts, before anything starts: a refused request sends nothing.
    await options.quota.admit(accountId, recipients?.length ?? 1);
    let messages: readonly AcceptedMessage[];
    let errors: readonly RejectedRecipient[] = [];
    try {
      if (recipients !== undefined) ({ messages, errors } = await sdk.sendBatch({ ...content, recipients }));
      else if (to !== undefined) messages = [await sdk.send({ ...content, to })];
      else throw new ApiError(400, 'invalid_request', "body must have required property 'to'", 'to');
    } catch (error) {
      throw asApiError(error);
    }
    const [first] = errors;
    if (messages.length === 0 && first) throw new ApiError(first.error.code === 'conflict' ? 409 : 400, first.error.code, first.error.message, first.error.field);
    options.metrics.messagesAccepted.inc(messages.filter((message) => !message.duplicate).length);
    return reply.code(202).send(errors.length > 0 ? { messages, errors } : { messages });
  });

  app.get<{ Params: { id: string } }>('/v1/messages/:id', { schema: readSchema }, async (request) => {
    const accountId = await auth.accountFor(request);
    const { id } = request.params;
    const message = await db.message.findUnique({ where: { id }, include: { events: { orderBy: { sequence: 'asc' } } } });
    if (message) {
      if (message.accountId !== accountId) throw notFound(id);
      return message;
    }
    // Accepted but its first status write has not happened yet: the workflow knows.
    try {
      const { status, providerId, providerMessageId } = await sdkFor(accountId).status(id);
      return { id, status, providerId, providerMessageId, events: [] };
    } catch (error) {
      throw asApiError(error);
    }
  });

  app.delete<{ Params: { id: string } }>('/v1/messages/:id', { schema: cancelSchema }, async (request) => {
    const accountId = await auth.accountFor(request);
    const { id } = request.params;
    let result;
    try {
      result = await sdkFor(accountId).cancel(id);
    } catch (error) {
      if (!(error instanceof MessageNotFoundError)) throw error;
      // Past Temporal's retention the message is finished: only PostgreSQL still has it.
      const stored = await db.message.findUnique({ where: { id }, select: { accountId: true, status: true } });
      if (!stored || stored.accountId !== accountId) throw notFound(id);
      result = { cancelled: false, status: stored.status };
    }
    if (!result.cancelled) {
      throw new ApiError(409, 'not_cancellable', `message ${id} is ${result.status}: only a message not yet submitted can be cancelled`, 'id');
    }
    return { id, status: result.status };
  });
};

/** The Message rows of client references, which outlive Temporal's retention period. */
function knownMessagesIn(db: Database): KnownMessageLookup {
  return (accountId, clientRefs) =>
    db.message.findMany({
      where: { accountId, clientRef: { in: [...clientRefs] } },
      select: { id: true, clientRef: true, to: true, from: true, body: true, callbackUrl: true, sendAt: true },
    });
}

/** The SDK's typed errors as the API's; anything else stays a 500. */
export function asApiError(error: unknown): unknown {
  if (error instanceof InvalidMessageError) return new ApiError(400, error.code, error.message, error.field);
  if (error instanceof MessageConflictError) return new ApiError(409, error.code, error.message, error.field);
  if (error instanceof MessageNotFoundError) return new ApiError(404, error.code, `no message ${error.messageId}`, error.field);
  return error;
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'not_found', `no message ${id}`, 'id');
}
