import { createHash, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import type { FastifyPluginAsync } from 'fastify';
import type { Database } from '../db/client';
import { ROUTER_TASK_QUEUE } from '../domain/dispatch';
import { assertWithinSegments, MessageTooLongError } from '../domain/encoding';
import type { MessageRequest } from '../domain/message';
import { InvalidPhoneNumberError, normaliseDestination } from '../domain/phone';
import { messageWorkflow, statusQuery } from '../workflows';
import type { ApiKeyAuthenticator } from './auth';
import { ApiError } from './errors';

export interface MessagesPluginOptions {
  readonly db: Database;
  readonly temporal: Client;
  readonly auth: ApiKeyAuthenticator;
  readonly maxSegments: number;
}

interface SubmitBody {
  to: string;
  from: string;
  body: string;
  clientRef?: string;
  callbackUrl?: string;
}

const submitSchema = {
  body: {
    type: 'object',
    required: ['to', 'from', 'body'],
    additionalProperties: false,
    properties: {
      to: { type: 'string', minLength: 1, maxLength: 32 },
      // Alphanumeric sender ids are at most 11 characters; numeric ones at most 15 digits and a '+'.
      from: { type: 'string', minLength: 1, maxLength: 16 },
      body: { type: 'string', minLength: 1, maxLength: 10_000 },
      clientRef: { type: 'string', minLength: 1, maxLength: 64 },
      callbackUrl: { type: 'string', format: 'uri', maxLength: 2048 },
    },
  },
} as const;

/** `POST /v1/messages` and `GET /v1/messages/:id`. */
export const messagesPlugin: FastifyPluginAsync<MessagesPluginOptions> = async (app, options) => {
  const { db, temporal, auth, maxSegments } = options;

  app.post<{ Body: SubmitBody }>('/v1/messages', { schema: submitSchema }, async (request, reply) => {
    const accountId = await auth.accountFor(request);
    const message = validateSubmit(request.body, accountId, maxSegments);
    await startMessage(temporal, message);
    return reply.code(202).send({ messages: [{ id: message.messageId, to: message.to, status: 'accepted' }] });
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
};

function validateSubmit(body: SubmitBody, accountId: string, maxSegments: number): MessageRequest {
  let destination;
  try {
    destination = normaliseDestination(body.to);
  } catch (error) {
    if (error instanceof InvalidPhoneNumberError) throw new ApiError(400, 'invalid_number', error.message, 'to');
    throw error;
  }
  let segments;
  try {
    segments = assertWithinSegments(body.body, maxSegments);
  } catch (error) {
    if (error instanceof MessageTooLongError) {
      throw new ApiError(400, 'body_too_long', `body needs ${error.segments} SMS parts; the maximum is ${error.maxSegments}`, 'body');
    }
    throw error;
  }
  return {
    messageId: messageIdFor(accountId, body.clientRef),
    accountId,
    clientRef: body.clientRef,
    to: destination.e164,
    country: destination.country,
    from: body.from,
    body: body.body,
    encoding: segments.encoding,
    segments: segments.segments,
    callbackUrl: body.callbackUrl,
    acceptedAt: new Date().toISOString(),
  };
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

async function startMessage(temporal: Client, message: MessageRequest): Promise<void> {
  try {
    await temporal.workflow.start(messageWorkflow, {
      taskQueue: ROUTER_TASK_QUEUE,
      workflowId: message.messageId,
      args: [message],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
  } catch (error) {
    // The same client reference again, after the first message finished: it stays the one message.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
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
