import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

/** The API's Prometheus metrics, one registry per server so tests can run several. */
export class ApiMetrics {
  readonly registry = new Registry();

  readonly messagesAccepted = new Counter({
    name: 'smsrouter_messages_accepted_total',
    help: 'Messages accepted by POST /v1/messages (new ones; duplicates of a client reference are not counted).',
    registers: [this.registry],
  });

  readonly deliveryReports = new Counter({
    name: 'smsrouter_delivery_reports_total',
    help: 'Delivery reports acknowledged, by provider and by how they were made durable.',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

/**
 * The ops listener: `GET /metrics` in Prometheus text format, on its own address (OPS_HOST,
 * OPS_PORT; loopback by default) so the public listener never shows it.
 */
export function buildOpsServer(metrics: ApiMetrics, logger: FastifyBaseLogger): FastifyInstance {
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app;
}
