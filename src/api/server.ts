import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ServiceError, type Client } from '@temporalio/client';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type RouteOptions } from 'fastify';
import type { Database } from '../db/client';
import { isDatabaseUnavailable } from '../db/unavailable';
import type { MessagePolicy } from '../domain/message';
import type { Logger } from '../logger';
import type { RoutingCatalog } from '../routing/catalog';
import { AccountAdmin } from '../accounts/admin';
import { QuotaExceededError, SubmitQuota } from '../accounts/quota';
import { CallbackUrlRefusedError } from '../callbacks/address-policy';
import { RoutingAdmin } from '../routing/admin';
import { ProviderWebhookAdmin } from '../routing/provider-webhooks';
import { adminPlugin } from './admin';
import { campaignsPlugin } from './campaigns';
import { ApiKeyAuthenticator } from './auth';
import { deliveryReportsPlugin } from './delivery-reports';
import type { DeliveryReportInbox } from '../inbox/delivery-reports';
import { NumbersService } from '../inbound/numbers';
import { ApiError, errorResponses, type ApiErrorBody } from './errors';
import { inboundPlugin } from './inbound';
import { numbersPlugin } from './numbers';
import { messagesPlugin } from './messages';
import type { ApiMetrics } from './metrics';
import { statsPlugin } from './stats';

export interface ApiOptions {
  readonly db: Database;
  /** The submit path's client. */
  readonly temporal: Client;
  /** Where the DLR webhook writes the reports it acknowledges. */
  readonly deliveryReportInbox: DeliveryReportInbox;
  readonly catalog: RoutingCatalog;
  readonly logger: Logger;
  readonly publicBaseUrl: string;
  readonly maxSegments: number;
  readonly maxBatchRecipients: number;
  readonly policy: MessagePolicy;
  /** Unset: the admin endpoints answer 403 admin_disabled. */
  readonly adminApiKey?: string;
  /** Told of every route as it is registered, so a test can hold the OpenAPI document against them. */
  readonly onRoute?: (route: RouteOptions) => void;
  /** Served on the ops listener, not by this server. */
  readonly metrics: ApiMetrics;
  /** CALLBACK_ALLOW_PRIVATE: a callbackUrl may name a loopback or private address. */
  readonly allowPrivateCallbacks: boolean;
  /** CAMPAIGN_CHUNK_SIZE and CAMPAIGN_CHUNKS_PER_RUN, handed to each campaign workflow. */
  readonly campaignChunkSize: number;
  readonly campaignChunksPerRun: number;
}

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = options.logger;
  const app = Fastify({
    loggerInstance: logger,
    // A log line per request would cost more than the submit itself on the hot path.
    logController: new LogController({ disableRequestLogging: true }),
    // An unknown field is a client bug worth reporting, not something to drop silently.
    ajv: { customOptions: { removeAdditional: false } },
  });
  installErrorHandling(app);
  if (options.onRoute) app.addHook('onRoute', options.onRoute);
  await registerOpenApi(app);
  const auth = new ApiKeyAuthenticator(options.db);
  const { metrics } = options;
  // One quota for both submit paths: a campaign's recipients count against the same daily cap.
  const quota = new SubmitQuota(options.db);
  await app.register(messagesPlugin, {
    db: options.db,
    temporal: options.temporal,
    auth,
    maxSegments: options.maxSegments,
    maxBatchRecipients: options.maxBatchRecipients,
    policy: options.policy,
    metrics,
    quota,
    allowPrivateCallbacks: options.allowPrivateCallbacks,
    catalog: options.catalog,
  });
  await app.register(campaignsPlugin, {
    db: options.db,
    temporal: options.temporal,
    auth,
    limits: { maxSegments: options.maxSegments, maxBatchRecipients: options.maxBatchRecipients },
    policy: options.policy,
    quota,
    allowPrivateCallbacks: options.allowPrivateCallbacks,
    chunkSize: options.campaignChunkSize,
    chunksPerRun: options.campaignChunksPerRun,
  });
  await app.register(deliveryReportsPlugin, {
    inbox: options.deliveryReportInbox,
    catalog: options.catalog,
    publicBaseUrl: options.publicBaseUrl,
    metrics,
  });
  await app.register(adminPlugin, {
    admin: new RoutingAdmin(options.db),
    accounts: new AccountAdmin(options.db),
    webhooks: new ProviderWebhookAdmin(options.db, options.publicBaseUrl),
    adminApiKey: options.adminApiKey,
  });
  await app.register(statsPlugin, { db: options.db, auth });
  await app.register(inboundPlugin, { db: options.db, catalog: options.catalog, publicBaseUrl: options.publicBaseUrl, auth, metrics });
  await app.register(numbersPlugin, { numbers: new NumbersService(options.db), auth, adminApiKey: options.adminApiKey, allowPrivateWebhooks: options.allowPrivateCallbacks });
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'Liveness', response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }, ...errorResponses } } },
    async () => ({ ok: true }),
  );
  return app;
}

/**
 * OpenAPI 3.1 generated from the route schemas, at `/openapi.json`, and a docs page at `/docs`.
 * Registered before the routes: the generator collects them as they are added.
 */
async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'smsrouter',
        version: '1',
        description: 'SMS message router on Temporal. Errors are `{ "error": { "code", "message", "field"? } }`.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: "An account's API key" },
          adminKey: { type: 'http', scheme: 'bearer', description: 'ADMIN_API_KEY' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/**
 * What a 503 tells the client to wait before trying again: PostgreSQL or Temporal was unreachable,
 * and the request, which made nothing durable, may be sent again as it is.
 */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

/** Every error as `{ "error": { "code", "message", "field"? } }`; exported so plugin tests answer the same way. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler<FastifyError | ApiError | QuotaExceededError | CallbackUrlRefusedError>((thrown, request, reply) => {
    const error = asApiError(thrown);
    if (thrown instanceof QuotaExceededError) reply.header('retry-after', String(thrown.retryAfterSeconds));
    else if (statusOf(error) === 503) reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    reply.code(statusOf(error)).send(errorBody(error));
    if (statusOf(error) >= 500) request.log.error({ err: error }, 'request failed');
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } });
  });
}

/** Refusals of the submit path's domain checks, and an unreachable database, as the client sees them. */
function asApiError(error: FastifyError | ApiError | QuotaExceededError | CallbackUrlRefusedError): FastifyError | ApiError {
  if (error instanceof QuotaExceededError) return new ApiError(429, 'quota_exceeded', error.message);
  if (error instanceof CallbackUrlRefusedError) return new ApiError(400, 'invalid_request', error.message, 'callbackUrl');
  if (isDatabaseUnavailable(error)) return new ApiError(503, 'database_unavailable', 'the database is unreachable; nothing of this request was kept, retry it');
  return error;
}

function statusOf(error: FastifyError | ApiError): number {
  if (error instanceof ApiError) return error.statusCode;
  if (error instanceof ServiceError) return 503;
  return error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
}

function errorBody(error: FastifyError | ApiError): ApiErrorBody {
  if (error instanceof ApiError) return { error: { code: error.code, message: error.message, field: error.field } };
  // Temporal unreachable or past its deadline: the request may be retried, nothing about it was wrong.
  if (error instanceof ServiceError) return { error: { code: 'temporal_unavailable', message: 'Temporal did not answer in time; retry the request' } };
  if (error.validation) {
    const [first] = error.validation;
    const missing = first?.params && 'missingProperty' in first.params ? String(first.params.missingProperty) : undefined;
    const extra = first?.params && 'additionalProperty' in first.params ? String(first.params.additionalProperty) : undefined;
    const field = missing ?? extra ?? first?.instancePath.replace(/^\//, '').replace(/\//g, '.');
    return { error: { code: 'invalid_request', message: error.message, field: field || undefined } };
  }
  if (statusOf(error) < 500) return { error: { code: error.code ?? 'bad_request', message: error.message } };
  return { error: { code: 'internal_error', message: 'internal error' } };
}
