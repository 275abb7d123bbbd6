import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import type { Database } from '../db/client';
import { InvalidPhoneNumberError, normaliseInboundAddress } from '../domain/phone';
import { InboundStore } from '../inbound/store';
import { inboundAdapterFor } from '../providers';
import { DeliveryReportAuthError, DeliveryReportFormatError, InboundFormatError } from '../providers/errors';
import type { InboundSms } from '../providers/types';
import type { RoutingCatalog } from '../routing/catalog';
import type { ApiKeyAuthenticator } from './auth';
import { ApiError, errorResponses } from './errors';
import { authenticatedCallback, keepRawBody } from './provider-callback';
import type { ApiMetrics } from './metrics';

export interface InboundPluginOptions {
  readonly db: Database;
  readonly catalog: RoutingCatalog;
  readonly auth: ApiKeyAuthenticator;
  /** Our public origin as providers see it; signatures cover the URL they called. */
  readonly publicBaseUrl: string;
  readonly metrics: ApiMetrics;
}

const MAX_LISTED = 1000;

const inboundView = {
  type: 'object',
  required: ['id', 'provider', 'from', 'to', 'text', 'encoding', 'parts', 'keyword', 'receivedAt', 'deliveredAt'],
  properties: {
    id: { type: 'string' },
    provider: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    text: { type: 'string' },
    encoding: { type: 'string' },
    parts: { type: 'integer' },
    keyword: { type: ['string', 'null'] },
    receivedAt: { type: 'string' },
    deliveredAt: { type: ['string', 'null'] },
  },
} as const;

const client = { tags: ['inbound'], security: [{ apiKey: [] }] } as const;

const webhookSchema = {
  tags: ['inbound'],
  summary: "A provider's inbound SMS webhook, answered in the provider's own form",
  params: { type: 'object', required: ['provider'], properties: { provider: { type: 'string', minLength: 1, maxLength: 128 } } },
  response: { 200: { description: 'empty, or an empty TwiML response for Twilio', type: 'string' }, 204: { type: 'null' }, ...errorResponses },
} as const;

const listSchema = {
  ...client,
  summary: 'Your inbound messages',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      from: { type: 'string', minLength: 1, maxLength: 32 },
      to: { type: 'string', minLength: 1, maxLength: 32 },
      since: { type: 'string', format: 'date-time' },
      limit: { type: 'integer', minimum: 1, maximum: MAX_LISTED, default: 100 },
    },
  },
  response: { 200: { type: 'object', required: ['messages'], properties: { messages: { type: 'array', items: inboundView } } }, ...errorResponses },
} as const;

interface ListQuery {
  from?: string;
  to?: string;
  since?: string;
  limit: number;
}

/**
 * `/v1/inbound/:provider`: providers' inbound-SMS webhooks, authenticated and parsed by the
 * provider's adapter, stored in one idempotent write, answered in the provider's own form once that
 * write is durable (Temporal need not be up). The forwarder in the workers then makes each whole
 * message a workflow; a part waits for the others. `GET /v1/inbound` lists an
 * account's inbound messages.
 */
export const inboundPlugin: FastifyPluginAsync<InboundPluginOptions> = async (app, options) => {
  const { db, catalog, auth, publicBaseUrl } = options;
  const store = new InboundStore(db);
  const received = new Counter({
    name: 'smsrouter_inbound_messages_total',
    help: 'Inbound messages stored, by provider and by whether an account owns the number they were sent to.',
    labelNames: ['provider', 'owned'] as const,
    registers: [options.metrics.registry],
  });

  keepRawBody(app);

  const webhook = async (request: FastifyRequest<{ Params: { provider: string } }>, reply: FastifyReply) => {
    const { provider, credentials, callback } = await authenticatedCallback(request, catalog, publicBaseUrl);
    const providerId = provider.id;
    const adapter = inboundAdapterFor(provider.adapter);
    let messages: InboundSms[];
    try {
      messages = adapter.parseInbound(callback, credentials);
    } catch (error) {
      if (error instanceof DeliveryReportAuthError) throw new ApiError(401, 'unauthorized', error.message);
      if (error instanceof InboundFormatError || error instanceof DeliveryReportFormatError) {
        request.log.warn({ provider: providerId, err: error }, 'malformed inbound message');
        throw new ApiError(400, 'malformed_inbound_message', error.message);
      }
      throw error;
    }

    // Stored is durable: the forwarder in the workers starts each whole message's workflow.
    for (const sms of messages) {
      const outcome = await store.receive(providerId, sms);
      if (outcome.kind === 'message' && outcome.message.created) received.inc({ provider: providerId, owned: String(outcome.message.accountId !== null) });
    }
    const { statusCode, contentType, body } = adapter.inboundAcknowledgement;
    if (contentType) reply.type(contentType);
    return reply.code(statusCode).send(body);
  };

  app.post('/v1/inbound/:provider', { schema: webhookSchema }, webhook);
  // Vonage and Twilio can both be set to call with GET.
  app.get('/v1/inbound/:provider', { schema: webhookSchema }, webhook);

  app.get<{ Querystring: ListQuery }>('/v1/inbound', { schema: listSchema }, async (request) => {
    const accountId = await auth.accountFor(request);
    const { from, to, since, limit } = request.query;
    const rows = await db.inboundMessage.findMany({
      where: {
        accountId,
        ...(from ? { from: queryAddress(from, 'from') } : {}),
        ...(to ? { to: queryAddress(to, 'to') } : {}),
        ...(since ? { receivedAt: { gte: new Date(since) } } : {}),
      },
      orderBy: [{ receivedAt: 'asc' }, { id: 'asc' }],
      take: limit,
    });
    return {
      messages: rows.map((row) => ({
        id: row.id,
        provider: row.providerId,
        from: row.from,
        to: row.to,
        text: row.text,
        encoding: row.encoding,
        parts: row.parts,
        keyword: row.keyword,
        receivedAt: row.receivedAt.toISOString(),
        deliveredAt: row.deliveredAt?.toISOString() ?? null,
      })),
    };
  });
};

/** A number in a query, in the form it is stored: "+44 7700…", "447700…" and "0044…" are one. */
export function queryAddress(value: string, field: string): string {
  try {
    return normaliseInboundAddress(value);
  } catch (error) {
    if (error instanceof InvalidPhoneNumberError) throw new ApiError(400, 'invalid_number', error.message, field);
    throw error;
  }
}
