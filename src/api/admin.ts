import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { RoutingConflictError, RoutingNotFoundError, RoutingValidationError, type RoutingAdmin } from '../routing/admin';
import { ApiError } from './errors';

export interface AdminPluginOptions {
  readonly admin: RoutingAdmin;
  /** Unset: every admin endpoint answers 403 admin_disabled. */
  readonly adminApiKey: string | undefined;
}

/** A routing table of 100k routes as YAML is about 10 MB. */
const IMPORT_BODY_LIMIT = 64 * 1024 * 1024;

const YAML_CONTENT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];

// Field rules live in the admin service's schemas, so the REST API and the CLI refuse the same
// input with the same message (`routes[3].prefix: …`); here a body only has to be an object.
const objectBody = { type: 'object' } as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

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

const providerResponse = { 200: providerView, 201: providerView } as const;
const routeResponse = { 201: routeView } as const;

const listProvidersSchema = {
  response: { 200: { type: 'object', required: ['providers'], properties: { providers: { type: 'array', items: providerView } } } },
} as const;

const listRoutesSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { prefix: { type: 'string' }, provider: { type: 'string' }, account: { type: 'string' } },
  },
  response: { 200: { type: 'object', required: ['routes'], properties: { routes: { type: 'array', items: routeView } } } },
} as const;

const importSchema = {
  response: {
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
  },
} as const;

interface IdParams {
  id: string;
}

interface RouteFilterQuery {
  prefix?: string;
  provider?: string;
  account?: string;
}

/**
 * `/v1/admin/...`: providers, routes, whole-table import and "where would this number go?", for
 * operators holding the admin key. The work is the admin service's, shared with the CLI.
 */
export const adminPlugin: FastifyPluginAsync<AdminPluginOptions> = async (app, options) => {
  const { admin, adminApiKey } = options;
  app.addHook('onRequest', requireAdminKey(adminApiKey));

  // A routing table kept in version control is usually YAML; it goes to the service as text.
  app.addContentTypeParser(YAML_CONTENT_TYPES, { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.get('/v1/admin/providers', { schema: listProvidersSchema }, async () => ({ providers: await call(admin.listProviders()) }));

  app.post('/v1/admin/providers', { schema: { body: objectBody, response: providerResponse } }, async (request, reply) =>
    reply.code(201).send(await call(admin.addProvider(request.body))),
  );

  app.patch<{ Params: IdParams }>('/v1/admin/providers/:id', { schema: { params: idParams, body: objectBody, response: providerResponse } }, async (request) =>
    call(admin.updateProvider(request.params.id, request.body)),
  );

  app.post<{ Params: IdParams }>('/v1/admin/providers/:id/disable', { schema: { params: idParams, response: providerResponse } }, async (request) =>
    call(admin.disableProvider(request.params.id)),
  );

  app.get<{ Querystring: RouteFilterQuery }>('/v1/admin/routes', { schema: listRoutesSchema }, async (request) => ({
    routes: await call(admin.listRoutes(request.query)),
  }));

  app.post('/v1/admin/routes', { schema: { body: objectBody, response: routeResponse } }, async (request, reply) =>
    reply.code(201).send(await call(admin.addRoute(request.body))),
  );

  app.delete<{ Params: IdParams }>('/v1/admin/routes/:id', { schema: { params: idParams } }, async (request, reply) => {
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

/** The admin service's typed errors as API errors; anything else stays a 500. */
async function call<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof RoutingValidationError) throw new ApiError(400, 'invalid_request', error.message, error.field);
    if (error instanceof RoutingNotFoundError) throw new ApiError(404, 'not_found', error.message, 'id');
    if (error instanceof RoutingConflictError) throw new ApiError(409, 'conflict', error.message, error.field);
    throw error;
  }
}
