import { ServiceError, type Client } from '@temporalio/client';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Database } from '../db/client';
import type { MessagePolicy } from '../domain/message';
import type { Logger } from '../logger';
import type { RoutingCatalog } from '../routing/catalog';
import { RoutingAdmin } from '../routing/admin';
import { adminPlugin } from './admin';
import { ApiKeyAuthenticator } from './auth';
import { deliveryReportsPlugin } from './delivery-reports';
import { ApiError, type ApiErrorBody } from './errors';
import { messagesPlugin } from './messages';
import { ApiMetrics, metricsPlugin } from './metrics';
import { statsPlugin } from './stats';

export interface ApiOptions {
  readonly db: Database;
  /** The submit path's client. */
  readonly temporal: Client;
  /** The DLR webhook's client, on a connection of its own. */
  readonly deliveryReportsTemporal: Client;
  readonly catalog: RoutingCatalog;
  readonly logger: Logger;
  readonly publicBaseUrl: string;
  readonly maxSegments: number;
  readonly maxBatchRecipients: number;
  readonly policy: MessagePolicy;
  readonly dlrSignalBudgetMs: number;
  /** Unset: the admin endpoints answer 403 admin_disabled. */
  readonly adminApiKey?: string;
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
  const auth = new ApiKeyAuthenticator(options.db);
  const metrics = new ApiMetrics();
  await app.register(metricsPlugin, { metrics, db: options.db });
  await app.register(messagesPlugin, {
    db: options.db,
    temporal: options.temporal,
    auth,
    maxSegments: options.maxSegments,
    maxBatchRecipients: options.maxBatchRecipients,
    policy: options.policy,
    metrics,
  });
  await app.register(deliveryReportsPlugin, {
    db: options.db,
    temporal: options.deliveryReportsTemporal,
    catalog: options.catalog,
    publicBaseUrl: options.publicBaseUrl,
    metrics,
    signalBudgetMs: options.dlrSignalBudgetMs,
  });
  await app.register(adminPlugin, { admin: new RoutingAdmin(options.db), adminApiKey: options.adminApiKey });
  await app.register(statsPlugin, { db: options.db, auth });
  app.get('/healthz', async () => ({ ok: true }));
  return app;
}

/** Every error as `{ "error": { "code", "message", "field"? } }`; exported so plugin tests answer the same way. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler<FastifyError | ApiError>((error, request, reply) => {
    reply.code(statusOf(error)).send(errorBody(error));
    if (statusOf(error) >= 500) request.log.error({ err: error }, 'request failed');
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } });
  });
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
