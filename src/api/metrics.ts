import type { FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { errorResponses } from './errors';

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

/** `GET /metrics` in Prometheus text format. */
export const metricsPlugin: FastifyPluginAsync<{ metrics: ApiMetrics }> = async (app, { metrics }) => {
  const schema = { tags: ['operations'], summary: 'Prometheus metrics (text format)', produces: ['text/plain'], response: { 200: { type: 'string' }, ...errorResponses } };
  app.get('/metrics', { schema }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
