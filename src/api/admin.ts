import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AccountAdmin } from '../accounts/admin';
import type { RoutingAdmin } from '../routing/admin';
import type { ProviderWebhookAdmin } from '../routing/provider-webhooks';
import { accountRoutes } from './admin-accounts';
import { adminOperation as admin, idParams, objectBody, type IdParams } from './admin-schemas';
import { ApiError, errorResponses, fromAdminErrors as call } from './errors';

export interface AdminPluginOptions {
  readonly admin: RoutingAdmin;
  readonly accounts: AccountAdmin;
  readonly webhooks: ProviderWebhookAdmin;
  /** Unset: every admin endpoint answers 403 admin_disabled. */
  readonly adminApiKey: string | undefined;
}

/** A routing table of 100k routes as YAML is about 10 MB. */
const IMPORT_BODY_LIMIT = 64 * 1024 * 1024;

const YAML_CONTENT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];

// Response schemas are also an allowlist: fast-json-stringify drops any field not named here, so
// a credentials reference can never reach a client even if a view grew one by mistake.
const providerView = {
  type: 'object',
  required: ['id', 'adapter', 'baseUrl', 'hasCredentials', 'tps', 'window', 'pipelining', 'dlrTimeoutSeconds', 'deliveryGuarantee', 'enabled', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    adapter: { type: 'string' },
    baseUrl: { type: 'string' },
    hasCredentials: { type: 'boolean' },
    tps: { type: 'integer' },
    window: { type: 'integer' },
    pipelining: { type: 'integer' },
    dlrTimeoutSeconds: { type: 'integer' },
    deliveryGuarantee: { type: 'string' },
    enabled: { type: 'boolean' },
    updatedAt: { type: 'string' },
  },
} as const;

const routeProperties = {
  id: { type: 'string' },
  prefix: { type: 'string' },
  provider: { type: 'string' },
  account: { type: ['string', 'null'] },
  sender: { type: ['string', 'null'] },
  priority: { type: 'integer' },
  weight: { type: 'integer' },
  price: { type: ['number', 'null'] },
} as const;

const routeView = { type: 'object', required: Object.keys(routeProperties), properties: routeProperties } as const;

const providerResponse = { 200: providerView, 201: providerView, ...errorResponses } as const;
const routeResponse = { 201: routeView, ...errorResponses } as const;

// The token in these URLs is a secret: shown only to holders of the admin key, for the provider's dashboard.
const webhooksView = {
  type: 'object',
  required: ['provider', 'deliveryReports', 'inbound', 'previousSecretValidUntil'],
  properties: {
    provider: { type: 'string' },
    deliveryReports: { type: 'string', description: 'DLR callback URL with our token; we send it with each submit' },
    inbound: { type: 'string', description: "inbound SMS webhook URL with our token, for the provider's dashboard" },
    previousSecretValidUntil: { type: ['string', 'null'], description: 'until when URLs from before the last rotation are accepted' },
  },
} as const;

const webhooksResponse = { 200: webhooksView, ...errorResponses } as const;
const webhooksSchema = { ...admin, summary: "A provider's webhook URLs, with our token", params: idParams, response: webhooksResponse } as const;
// The body is optional, so it has no schema here: the service validates `{ graceSeconds? }`.
const rotateWebhookSecretSchema = {
  ...admin,
  summary: "Rotate a provider's webhook token; body { graceSeconds? }: how long the previous one stays valid (default a week)",
  params: idParams,
  response: webhooksResponse,
} as const;

const listProvidersSchema = {
  ...admin,
  summary: 'List providers',
  response: { 200: { type: 'object', required: ['providers'], properties: { providers: { type: 'array', items: providerView } } }, ...errorResponses },
} as const;

const addProviderSchema = { ...admin, summary: 'Add a provider', body: objectBody, response: providerResponse } as const;
const updateProviderSchema = { ...admin, summary: 'Change a provider', params: idParams, body: objectBody, response: providerResponse } as const;
const disableProviderSchema = { ...admin, summary: 'Disable a provider', params: idParams, response: providerResponse } as const;
const addRouteSchema = { ...admin, summary: 'Add a route', body: objectBody, response: routeResponse } as const;
const removeRouteSchema = { ...admin, summary: 'Remove a route', params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } as const;

const listRoutesSchema = {
  ...admin,
  summary: 'List routes',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { prefix: { type: 'string' }, provider: { type: 'string' }, account: { type: 'string' } },
  },
  response: { 200: { type: 'object', required: ['routes'], properties: { routes: { type: 'array', items: routeView } } }, ...errorResponses },
} as const;

const importSchema = {
  ...admin,
  summary: 'Replace the route table (JSON, or YAML as text)',
  // YAML arrives as text through its own parser; either way the admin service checks every field.
  body: { anyOf: [{ type: 'object' }, { type: 'string' }] },
  response: {
    ...errorResponses,
    200: {
      type: 'object',
      required: ['providersCreated', 'providersUpdated', 'routesRemoved', 'routesAdded'],
      properties: {
        providersCreated: { type: 'integer' },
        providersUpdated: { type: 'integer' },
        routesRemoved: { type: 'integer' },
        routesAdded: { type: 'integer' },
      },
    },
  },
} as const;

const explainSchema = {
  ...admin,
  summary: 'The route candidates of a number',
  params: { type: 'object', required: ['number'], properties: { number: { type: 'string', minLength: 1, maxLength: 32 } } },
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { account: { type: 'string', minLength: 1 }, from: { type: 'string', minLength: 1 } },
  },
  response: {
    200: {
      type: 'object',
      required: ['to', 'account', 'from', 'candidates'],
      properties: {
        to: { type: 'string' },
        account: { type: ['string', 'null'] },
        from: { type: ['string', 'null'] },
        candidates: {
          type: 'array',
          items: { type: 'object', required: [...routeView.required, 'share'], properties: { ...routeProperties, share: { type: 'number' } } },
        },
      },
    },
    ...errorResponses,
  },
} as const;

interface RouteFilterQuery {
  prefix?: string;
  provider?: string;
  account?: string;
}

/**
 * `/v1/admin/...`: providers, routes, whole-table import, "where would this number go?", accounts
 * and API keys, for operators holding the admin key. The work is the admin services', shared with the CLI.
 */
export const adminPlugin: FastifyPluginAsync<AdminPluginOptions> = async (app, options) => {
  const { admin, accounts, webhooks, adminApiKey } = options;
  app.addHook('onRequest', requireAdminKey(adminApiKey));

  // A routing table kept in version control is usually YAML; it goes to the service as text.
  app.addContentTypeParser(YAML_CONTENT_TYPES, { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.get('/v1/admin/providers', { schema: listProvidersSchema }, async () => ({ providers: await call(admin.listProviders()) }));

  app.post('/v1/admin/providers', { schema: addProviderSchema }, async (request, reply) =>
    reply.code(201).send(await call(admin.addProvider(request.body))),
  );

  app.patch<{ Params: IdParams }>('/v1/admin/providers/:id', { schema: updateProviderSchema }, async (request) =>
    call(admin.updateProvider(request.params.id, request.body)),
  );

  app.post<{ Params: IdParams }>('/v1/admin/providers/:id/disable', { schema: disableProviderSchema }, async (request) =>
    call(admin.disableProvider(request.params.id)),
  );

  app.get<{ Params: IdParams }>('/v1/admin/providers/:id/webhooks', { schema: webhooksSchema }, async (request) =>
    call(webhooks.webhooks(request.params.id)),
  );

  app.post<{ Params: IdParams }>('/v1/admin/providers/:id/webhooks/rotate', { schema: rotateWebhookSecretSchema }, async (request) =>
    call(webhooks.rotate(request.params.id, request.body ?? {})),
  );

  app.get<{ Querystring: RouteFilterQuery }>('/v1/admin/routes', { schema: listRoutesSchema }, async (request) => ({
    routes: await call(admin.listRoutes(request.query)),
  }));

  app.post('/v1/admin/routes', { schema: addRouteSchema }, async (request, reply) =>
    reply.code(201).send(await call(admin.addRoute(request.body))),
  );

  app.delete<{ Params: IdParams }>('/v1/admin/routes/:id', { schema: removeRouteSchema }, async (request, reply) => {
    await call(admin.removeRoute(request.params.id));
    return reply.code(204).send();
  });

  app.put('/v1/admin/routing', { schema: importSchema, bodyLimit: IMPORT_BODY_LIMIT }, async (request) =>
    call(typeof request.body === 'string' ? admin.importRoutingText(request.body) : admin.importRouting(request.body)),
  );

  app.get<{ Params: { number: string }; Querystring: { account?: string; from?: string } }>(
    '/v1/admin/route/:number',
    { schema: explainSchema },
    async (request) => call(admin.explain({ number: request.params.number, ...request.query })),
  );

  // Registered inside this plugin so the admin key check above covers it.
  await app.register(accountRoutes, { accounts });
};

/** The `onRequest` hook of every admin plugin: the admin key, compared in constant time. */
export function requireAdminKey(adminApiKey: string | undefined): (request: FastifyRequest) => Promise<void> {
  const expectedKeyDigest = adminApiKey === undefined ? undefined : digest(adminApiKey);
  return async (request) => {
    if (!expectedKeyDigest) throw new ApiError(403, 'admin_disabled', 'the admin API is disabled: set ADMIN_API_KEY to enable it');
    const key = bearerKey(request);
    if (!key) throw new ApiError(401, 'unauthorized', 'missing "Authorization: Bearer <admin key>" header', 'authorization');
    // Digests have equal length, which timingSafeEqual needs, and hide the key's length too.
    if (!timingSafeEqual(digest(key), expectedKeyDigest)) throw new ApiError(401, 'unauthorized', 'admin key is not valid', 'authorization');
  };
}

function bearerKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() || undefined : undefined;
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
