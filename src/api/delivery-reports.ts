import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { DeliveryReportInbox } from '../inbox/delivery-reports';
import { adapterFor } from '../providers';
import { DeliveryReportAuthError, DeliveryReportFormatError } from '../providers/errors';
import type { DeliveryReport } from '../providers/types';
import type { RoutingCatalog } from '../routing/catalog';
import { ApiError, errorResponses } from './errors';
import { authenticatedCallback, keepRawBody } from './provider-callback';
import type { ApiMetrics } from './metrics';

export interface DeliveryReportsPluginOptions {
  readonly inbox: DeliveryReportInbox;
  readonly catalog: RoutingCatalog;
  /** Our public origin as providers see it; signatures cover the URL they called. */
  readonly publicBaseUrl: string;
  readonly metrics: ApiMetrics;
}

// The body is each provider's own format, authenticated and parsed by its adapter; only the
// answer is ours.
const deliveryReportSchema = {
  tags: ['delivery reports'],
  summary: "A provider's delivery report callback",
  params: { type: 'object', required: ['provider'], properties: { provider: { type: 'string', minLength: 1, maxLength: 128 } } },
  response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }, ...errorResponses },
} as const;

/**
 * `/v1/dlr/:provider`: providers' delivery report callbacks. A 2xx means the reports are in the
 * inbox (DeliveryReport), written in a batch shared with concurrent callbacks; the forwarder in the
 * workers signals them into their messages' workflows. Nothing is acknowledged before it is durable:
 * a failed write answers 503 and the provider sends the report again.
 */
export const deliveryReportsPlugin: FastifyPluginAsync<DeliveryReportsPluginOptions> = async (app, options) => {
  const { inbox, catalog, publicBaseUrl, metrics } = options;

  keepRawBody(app);
  // Hooks registered here see only this plugin's routes (Fastify encapsulation).
  app.addHook('onResponse', (_request, reply, done) => {
    metrics.deliveryReportAck.observe({ outcome: reply.statusCode < 300 ? 'acknowledged' : 'refused' }, reply.elapsedTime / 1000);
    done();
  });

  const handler = async (request: FastifyRequest<{ Params: { provider: string } }>) => {
    const { provider, credentials, callback } = await authenticatedCallback(request, catalog, publicBaseUrl);
    const providerId = provider.id;
    const adapter = adapterFor(provider.adapter);
    let reports: DeliveryReport[];
    try {
      reports = adapter.parseDeliveryReport(callback, credentials);
    } catch (error) {
      if (error instanceof DeliveryReportAuthError) throw new ApiError(401, 'unauthorized', error.message);
      if (error instanceof DeliveryReportFormatError) {
        request.log.warn({ provider: providerId, err: error }, 'malformed delivery report');
        throw new ApiError(400, 'malformed_delivery_report', error.message);
      }
      throw error;
    }

    try {
      await inbox.append(reports.map((report) => ({ providerId, report })));
    } catch (error) {
      metrics.deliveryReports.inc({ provider: providerId, outcome: 'unavailable' }, reports.length);
      request.log.error({ err: error, provider: providerId }, 'could not write delivery reports to the inbox');
      // Any 503 carries Retry-After (the API's error handler): the provider sends the reports again.
      throw new ApiError(503, 'temporarily_unavailable', 'delivery report not stored; please retry');
    }
    metrics.deliveryReports.inc({ provider: providerId, outcome: 'stored' }, reports.length);
    return { ok: true };
  };

  app.post('/v1/dlr/:provider', { schema: deliveryReportSchema }, handler);
  // Vonage can be set to deliver receipts as GET query strings.
  app.get('/v1/dlr/:provider', { schema: deliveryReportSchema }, handler);
};
