import type { FastifyPluginAsync } from 'fastify';
import { InboundConflictError, InboundNotFoundError, InboundValidationError, type InboundSettingsInput, type NumbersService } from '../inbound/numbers';
import { CallbackUrlRefusedError, checkCallbackUrl } from '../callbacks/address-policy';
import { requireAdminKey } from './admin';
import type { ApiKeyAuthenticator } from './auth';
import { adminOperation } from './admin-schemas';
import { ApiError, errorResponses } from './errors';

export interface NumbersPluginOptions {
  readonly numbers: NumbersService;
  readonly auth: ApiKeyAuthenticator;
  /** Unset: the admin endpoints answer 403 admin_disabled. */
  readonly adminApiKey: string | undefined;
  /** CALLBACK_ALLOW_PRIVATE: the inbound webhook may name a loopback or private address. */
  readonly allowPrivateWebhooks: boolean;
}

// PostgreSQL text cannot hold NUL: refused by the schema, it is a 400 rather than a failed query.
const NO_NUL = '^[^\\u0000]+$';
const numberText = { type: 'string', minLength: 1, maxLength: 32, pattern: NO_NUL } as const;
const accountText = { type: 'string', minLength: 1, maxLength: 128, pattern: NO_NUL } as const;
const client = { tags: ['inbound'], security: [{ apiKey: [] }] } as const;
const removed = { 204: { type: 'null' }, ...errorResponses } as const;
const words = { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 32 } } as const;
const keywordsSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { optOut: words, optIn: words, help: words, disabled: words },
} as const;

// Response schemas are allowlists, as in the admin plugin.
const numberView = {
  type: 'object',
  required: ['number', 'account', 'providers', 'keyword', 'createdAt'],
  properties: {
    number: { type: 'string' },
    account: { type: 'string' },
    providers: { type: 'array', items: { type: 'string' } },
    keyword: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const;

const suppressionView = {
  type: 'object',
  required: ['account', 'number', 'reason', 'source', 'createdAt'],
  properties: {
    account: { type: 'string' },
    number: { type: 'string' },
    reason: { type: 'string' },
    source: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
  },
} as const;

const suppressionList = {
  200: { type: 'object', required: ['suppressions'], properties: { suppressions: { type: 'array', items: suppressionView } } },
  ...errorResponses,
} as const;
const suppressionQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { number: numberText, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
} as const;

// NUL-free, as every stored text; the service checks the length so the CLI gets the same words.
const replyText = { type: ['string', 'null'], maxLength: 1000, pattern: NO_NUL } as const;

const inboundSettingsView = {
  type: 'object',
  required: ['account', 'webhookUrl', 'keywords', 'keywordReplies', 'optOutReply', 'optInReply'],
  properties: {
    account: { type: 'string' },
    webhookUrl: { type: ['string', 'null'] },
    keywords: keywordsSchema,
    keywordReplies: { type: 'boolean' },
    optOutReply: { type: ['string', 'null'] },
    optInReply: { type: ['string', 'null'] },
  },
} as const;

interface SuppressionQuery {
  number?: string;
  limit: number;
}

/**
 * Numbers owned by accounts and their inbound settings (`/v1/admin/numbers`,
 * `/v1/admin/accounts/:id/inbound`, `/v1/admin/accounts/:id/suppressions`, admin key), and an
 * account's own suppression list (`/v1/suppressions`, API key).
 */
export const numbersPlugin: FastifyPluginAsync<NumbersPluginOptions> = async (app, options) => {
  const { numbers, auth, adminApiKey, allowPrivateWebhooks } = options;

  await app.register(async (admin) => {
    admin.addHook('onRequest', requireAdminKey(adminApiKey));

    admin.post<{ Body: { number: string; account: string; providers?: string[]; keyword?: string | null } }>(
      '/v1/admin/numbers',
      {
        schema: {
          ...adminOperation,
          summary: 'Give a number to an account',
          body: {
            type: 'object',
            required: ['number', 'account'],
            additionalProperties: false,
            properties: {
              number: numberText,
              account: accountText,
              providers: { type: 'array', maxItems: 20, items: accountText },
              keyword: { type: ['string', 'null'], maxLength: 32, description: "a shared short code's keyword (GatewayAPI): stripped from the front of its messages" },
            },
          },
          response: { 201: numberView, ...errorResponses },
        },
      },
      async (request, reply) => reply.code(201).send(await call(numbers.addNumber(request.body))),
    );

    admin.get<{ Querystring: { account?: string } }>(
      '/v1/admin/numbers',
      {
        schema: {
          ...adminOperation,
          summary: 'Numbers and the accounts that own them',
          querystring: { type: 'object', additionalProperties: false, properties: { account: accountText } },
          response: { 200: { type: 'object', required: ['numbers'], properties: { numbers: { type: 'array', items: numberView } } }, ...errorResponses },
        },
      },
      async (request) => ({ numbers: await call(numbers.listNumbers(request.query)) }),
    );

    admin.delete<{ Params: { number: string } }>(
      '/v1/admin/numbers/:number',
      { schema: { ...adminOperation, summary: 'Take a number away', params: { type: 'object', required: ['number'], properties: { number: numberText } }, response: removed } },
      async (request, reply) => {
        await call(numbers.removeNumber(request.params.number));
        return reply.code(204).send();
      },
    );

    admin.put<{ Params: { id: string }; Body: InboundSettingsInput }>(
      '/v1/admin/accounts/:id/inbound',
      {
        schema: {
          ...adminOperation,
          summary: "An account's inbound webhook, opt-out keywords and their confirmations",
          params: { type: 'object', required: ['id'], properties: { id: accountText } },
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              webhookUrl: { type: ['string', 'null'], maxLength: 2048 },
              keywords: keywordsSchema,
              keywordReplies: { type: 'boolean', description: 'confirm opt-outs and opt-ins by SMS, through the provider they came in on' },
              optOutReply: replyText,
              optInReply: replyText,
            },
          },
          response: { 200: inboundSettingsView, ...errorResponses },
        },
      },
      async (request) => {
        const { webhookUrl } = request.body;
        // Checked as status callbacks are: here at once, and again after DNS at every delivery.
        if (webhookUrl) refusedAsInvalid(() => checkCallbackUrl(webhookUrl, allowPrivateWebhooks), 'webhookUrl');
        return call(numbers.configureInbound(request.params.id, request.body));
      },
    );

    admin.get<{ Params: { id: string }; Querystring: SuppressionQuery }>(
      '/v1/admin/accounts/:id/suppressions',
      {
        schema: {
          ...adminOperation,
          summary: "An account's suppression list",
          params: { type: 'object', required: ['id'], properties: { id: accountText } },
          querystring: suppressionQuery,
          response: suppressionList,
        },
      },
      async (request) => ({ suppressions: await call(numbers.listSuppressions(request.params.id, request.query)) }),
    );

    admin.post<{ Params: { id: string }; Body: { number: string } }>(
      '/v1/admin/accounts/:id/suppressions',
      {
        schema: {
          ...adminOperation,
          summary: "Add a number to an account's suppression list",
          params: { type: 'object', required: ['id'], properties: { id: accountText } },
          body: { type: 'object', required: ['number'], additionalProperties: false, properties: { number: numberText } },
          response: { 201: suppressionView, ...errorResponses },
        },
      },
      async (request, reply) => reply.code(201).send(await call(numbers.addSuppression(request.params.id, request.body.number, 'admin'))),
    );

    admin.delete<{ Params: { id: string; number: string } }>(
      '/v1/admin/accounts/:id/suppressions/:number',
      {
        schema: {
          ...adminOperation,
          summary: "Take a number off an account's suppression list",
          params: { type: 'object', required: ['id', 'number'], properties: { id: accountText, number: numberText } },
          response: removed,
        },
      },
      async (request, reply) => {
        await call(numbers.removeSuppression(request.params.id, request.params.number));
        return reply.code(204).send();
      },
    );
  });

  app.get<{ Querystring: SuppressionQuery }>('/v1/suppressions', { schema: { ...client, summary: 'Your suppression list', querystring: suppressionQuery, response: suppressionList } }, async (request) => ({
    suppressions: await call(numbers.listSuppressions(await auth.accountFor(request), request.query)),
  }));

  app.post<{ Body: { number: string } }>(
    '/v1/suppressions',
    {
      schema: {
        ...client,
        summary: 'Stop sending to a number',
        body: { type: 'object', required: ['number'], additionalProperties: false, properties: { number: numberText } },
        response: { 201: suppressionView, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await call(numbers.addSuppression(await auth.accountFor(request), request.body.number, 'api'))),
  );

  app.delete<{ Params: { number: string } }>(
    '/v1/suppressions/:number',
    { schema: { ...client, summary: 'Send to a number again', params: { type: 'object', required: ['number'], properties: { number: numberText } }, response: removed } },
    async (request, reply) => {
      await call(numbers.removeSuppression(await auth.accountFor(request), request.params.number));
      return reply.code(204).send();
    },
  );
};

/** The numbers service's typed errors as API errors; anything else stays a 500. */
async function call<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof InboundValidationError) throw new ApiError(400, 'invalid_request', error.message, error.field);
    if (error instanceof InboundNotFoundError) throw new ApiError(404, 'not_found', error.message);
    if (error instanceof InboundConflictError) throw new ApiError(409, 'conflict', error.message, error.field);
    throw error;
  }
}

function refusedAsInvalid(check: () => unknown, field: string): void {
  try {
    check();
  } catch (error) {
    if (error instanceof CallbackUrlRefusedError) throw new ApiError(400, 'invalid_request', error.message, field);
    throw error;
  }
}
