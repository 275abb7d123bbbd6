import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { FastifyPluginAsync } from 'fastify';
import { mapConcurrently } from '../concurrency';
import type { Database } from '../db/client';
import { ROUTER_TASK_QUEUE } from '../domain/dispatch';
import { assertWithinSegments, MessageTooLongError, type SegmentInfo } from '../domain/encoding';
import type { MessagePolicy, MessageRequest } from '../domain/message';
import { InvalidPhoneNumberError, normaliseDestination, type Destination } from '../domain/phone';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { cancelUpdate, messageWorkflow, statusQuery } from '../workflows';
import type { ApiKeyAuthenticator } from './auth';
import { ApiError, type ApiErrorBody } from './errors';
import type { ApiMetrics } from './metrics';

export interface MessagesPluginOptions {
  readonly db: Database;
  readonly temporal: Client;
  readonly auth: ApiKeyAuthenticator;
  readonly maxSegments: number;
  readonly maxBatchRecipients: number;
  readonly policy: MessagePolicy;
  readonly metrics: ApiMetrics;
}

type Recipient = string | { to: string; clientRef?: string };

interface SubmitBody {
  to?: string;
  recipients?: Recipient[];
  from: string;
  body: string;
  clientRef?: string;
  callbackUrl?: string;
  sendAt?: string;
  validitySeconds?: number;
}

interface AcceptedMessage {
  id: string;
  to: string;
  status: 'accepted' | 'scheduled';
  /** The client reference was seen before: this is the existing message, not a new one. */
  duplicate?: true;
}

interface RejectedRecipient extends ApiErrorBody {
  index: number;
  to: string;
}

const phone = { type: 'string', minLength: 1, maxLength: 32 } as const;
const clientRef = { type: 'string', minLength: 1, maxLength: 64 } as const;

const submitSchema = {
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
          anyOf: [
            phone,
            { type: 'object', required: ['to'], additionalProperties: false, properties: { to: phone, clientRef } },
          ],
        },
      },
      // Alphanumeric sender ids are at most 11 characters; numeric ones at most 15 digits and a '+'.
      from: { type: 'string', minLength: 1, maxLength: 16 },
      body: { type: 'string', minLength: 1, maxLength: 10_000 },
      clientRef,
      callbackUrl: { type: 'string', format: 'uri', pattern: '^https?://', maxLength: 2048 },
      sendAt: { type: 'string', format: 'date-time' },
      // Up to a week, as providers allow; each adapter raises it to its provider's own minimum.
      validitySeconds: { type: 'integer', minimum: 1, maximum: 604_800 },
    },
  },
} as const;

/** `POST /v1/messages` (one or many recipients), `GET` and `DELETE /v1/messages/:id`. */
export const messagesPlugin: FastifyPluginAsync<MessagesPluginOptions> = async (app, options) => {
  const { db, temporal, auth } = options;

  app.post<{ Body: SubmitBody }>('/v1/messages', { schema: submitSchema }, async (request, reply) => {
    const accountId = await auth.accountFor(request);
    const { body } = request;
    const recipients = recipientsOf(body, options.maxBatchRecipients);
    const segments = segmentsOf(body.body, options.maxSegments);
    const acceptedAt = new Date();
    const sendAt = body.sendAt ? new Date(body.sendAt) : undefined;
    const validFrom = sendAt && sendAt > acceptedAt ? sendAt : acceptedAt;

    const requests: MessageRequest[] = [];
    const errors: RejectedRecipient[] = [];
    recipients.forEach((recipient, index) => {
      const to = typeof recipient === 'string' ? recipient : recipient.to;
      let destination: Destination;
      try {
        destination = normaliseDestination(to);
      } catch (error) {
        if (!(error instanceof InvalidPhoneNumberError)) throw error;
        const field = body.recipients ? `recipients[${index}]` : 'to';
        errors.push({ index, to, error: { code: 'invalid_number', message: error.message, field } });
        return;
      }
      const reference = typeof recipient === 'string' ? batchReference(body, destination) : (recipient.clientRef ?? batchReference(body, destination));
      requests.push({
        messageId: messageIdFor(accountId, reference),
        accountId,
        clientRef: reference,
        to: destination.e164,
        country: destination.country,
        from: body.from,
        body: body.body,
        encoding: segments.encoding,
        segments: segments.segments,
        callbackUrl: body.callbackUrl,
        acceptedAt: acceptedAt.toISOString(),
        sendAt: sendAt?.toISOString(),
        validUntil: body.validitySeconds ? new Date(validFrom.getTime() + body.validitySeconds * 1000).toISOString() : undefined,
        policy: options.policy,
      });
    });
    if (requests.length === 0) {
      const [first] = errors;
      throw new ApiError(400, 'invalid_number', first?.error.message ?? 'no valid recipient', first?.error.field);
    }

    const messages = await startAll(temporal, await withoutKnownReferences(db, accountId, requests));
    options.metrics.messagesAccepted.inc(messages.filter((message) => !message.duplicate).length);
    return reply.code(202).send(errors.length > 0 ? { messages, errors } : { messages });
  });

  app.get<{ Params: { id: string } }>('/v1/messages/:id', async (request) => {
    const accountId = await auth.accountFor(request);
    const message = await db.message.findUnique({
      where: { id: request.params.id },
      include: { events: { orderBy: { sequence: 'asc' } } },
    });
    if (message) {
      if (message.accountId !== accountId) throw notFound(request.params.id);
      const { events, accountId: _owner, ...fields } = message;
      return {
        ...fields,
        events: events.map(({ id: _id, messageId: _messageId, ...event }) => event),
      };
    }
    // Accepted but its first status write has not happened yet: the workflow knows.
    return { id: request.params.id, ...(await queryRunningMessage(temporal, request.params.id)), events: [] };
  });

  app.delete<{ Params: { id: string } }>('/v1/messages/:id', async (request) => {
    const accountId = await auth.accountFor(request);
    const message = await db.message.findUnique({ where: { id: request.params.id }, select: { accountId: true, status: true } });
    if (!message || message.accountId !== accountId) throw notFound(request.params.id);
    let result;
    try {
      result = await temporal.workflow.getHandle(request.params.id).executeUpdate(cancelUpdate);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) result = { cancelled: false, status: message.status };
      else throw error;
    }
    if (!result.cancelled) {
      throw new ApiError(409, 'not_cancellable', `message ${request.params.id} is ${result.status}: only a message not yet submitted can be cancelled`, 'id');
    }
    return { id: request.params.id, status: result.status };
  });
};

function recipientsOf(body: SubmitBody, maxBatchRecipients: number): Recipient[] {
  if (body.to !== undefined && body.recipients !== undefined) {
    throw new ApiError(400, 'invalid_request', 'give either "to" or "recipients", not both', 'recipients');
  }
  if (body.recipients) {
    if (body.recipients.length > maxBatchRecipients) {
      throw new ApiError(400, 'too_many_recipients', `at most ${maxBatchRecipients} recipients per request`, 'recipients');
    }
    return body.recipients;
  }
  if (body.to === undefined) throw new ApiError(400, 'invalid_request', 'body must have required property \'to\'', 'to');
  return [body.to];
}

function segmentsOf(text: string, maxSegments: number): SegmentInfo {
  try {
    return assertWithinSegments(text, maxSegments);
  } catch (error) {
    if (error instanceof MessageTooLongError) {
      throw new ApiError(400, 'body_too_long', `body needs ${error.segments} SMS parts; the maximum is ${error.maxSegments}`, 'body');
    }
    throw error;
  }
}

/** In a batch, the request's reference and the number together name each recipient's message. */
function batchReference(body: SubmitBody, destination: Destination): string | undefined {
  if (!body.clientRef) return undefined;
  return body.recipients ? `${body.clientRef}:${destination.e164}` : body.clientRef;
}

/**
 * A client reference makes the id deterministic, so a retried submit maps to the same workflow id
 * and Temporal refuses to start it twice: the message is never sent twice.
 */
function messageIdFor(accountId: string, clientRef: string | undefined): string {
  if (!clientRef) return randomUUID();
  const hex = createHash('sha256').update(`${accountId}\u0000${clientRef}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Temporal forgets a finished workflow after the namespace's retention period; the Message row does
 * not. Checking it too keeps a client reference a duplicate for as long as the message is stored.
 */
async function withoutKnownReferences(db: Database, accountId: string, requests: MessageRequest[]): Promise<(MessageRequest | AcceptedMessage)[]> {
  const references = requests.flatMap((message) => (message.clientRef ? [message.clientRef] : []));
  if (references.length === 0) return requests;
  const known = await db.message.findMany({
    where: { accountId, clientRef: { in: references } },
    select: { id: true, to: true, clientRef: true },
  });
  if (known.length === 0) return requests;
  const byReference = new Map(known.map((message) => [message.clientRef, message]));
  return requests.map((message) => {
    const existing = message.clientRef ? byReference.get(message.clientRef) : undefined;
    return existing ? { id: existing.id, to: existing.to, status: 'accepted', duplicate: true } : message;
  });
}

/** Concurrent starts, a bounded number at a time so a large batch does not flood the frontend. */
const START_CONCURRENCY = 64;

async function startAll(temporal: Client, requests: readonly (MessageRequest | AcceptedMessage)[]): Promise<AcceptedMessage[]> {
  return mapConcurrently(requests, START_CONCURRENCY, (message) => ('messageId' in message ? startMessage(temporal, message) : Promise.resolve(message)));
}

async function startMessage(temporal: Client, message: MessageRequest): Promise<AcceptedMessage> {
  const status = message.sendAt && Date.parse(message.sendAt) > Date.now() ? 'scheduled' : 'accepted';
  try {
    await temporal.workflow.start(messageWorkflow, {
      taskQueue: ROUTER_TASK_QUEUE,
      workflowId: message.messageId,
      // A finished message's id is never reused: the same client reference later is still a duplicate.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [message],
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.status, value: 'accepted' },
        { key: SEARCH_ATTRIBUTES.account, value: message.accountId },
        ...(message.country ? [{ key: SEARCH_ATTRIBUTES.country, value: message.country }] : []),
      ],
    });
    return { id: message.messageId, to: message.to, status };
  } catch (error) {
    // The same client reference again, running or finished: it stays the one message.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { id: message.messageId, to: message.to, status, duplicate: true };
    throw error;
  }
}

async function queryRunningMessage(temporal: Client, id: string): Promise<{ status: string }> {
  try {
    const state = await temporal.workflow.getHandle(id).query(statusQuery);
    return { status: state.status };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw notFound(id);
    throw error;
  }
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'not_found', `no message ${id}`, 'id');
}
