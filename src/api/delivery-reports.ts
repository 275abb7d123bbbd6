import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Database } from '../db/client';
import { adapterFor } from '../providers';
import { DeliveryReportAuthError, DeliveryReportFormatError } from '../providers/errors';
import type { DeliveryReport } from '../providers/types';
import type { RoutingCatalog } from '../routing/catalog';
import { deliveryReportSignal } from '../workflows';
import { ApiError, errorResponses } from './errors';
import { authenticatedCallback, keepRawBody } from './provider-callback';
import type { ApiMetrics } from './metrics';

export interface DeliveryReportsPluginOptions {
  readonly db: Database;
  readonly temporal: Client;
  readonly catalog: RoutingCatalog;
  /** Our public origin as providers see it; signatures cover the URL they called. */
  readonly publicBaseUrl: string;
  readonly metrics: ApiMetrics;
  /**
   * How long a signal may take before the report is stored instead, so that a provider is answered
   * in milliseconds even while Temporal is slow; the reconciler signals it later.
   */
  readonly signalBudgetMs: number;
}

// The body is each provider's own format, authenticated and parsed by its adapter; only the
// answer is ours.
const deliveryReportSchema = {
  tags: ['delivery reports'],
  summary: "A provider's delivery report callback",
  params: { type: 'object', required: ['provider'], properties: { provider: { type: 'string', minLength: 1, maxLength: 128 } } },
  response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }, ...errorResponses },
} as const;

/** Why a report was stored instead of signalled. */
type StoredReason = 'unknown_message' | 'finished' | 'temporal_unreachable' | 'temporal_slow';

/**
 * `/v1/dlr/:provider`: providers' delivery report callbacks. Answers 2xx only once each report is
 * durable: signalled into its message's workflow, or stored in DeliveryReport when it cannot be.
 * Never signal-with-start: a late report would start a new workflow and send the SMS again.
 */
export const deliveryReportsPlugin: FastifyPluginAsync<DeliveryReportsPluginOptions> = async (app, options) => {
  const { db, temporal, catalog, publicBaseUrl, metrics, signalBudgetMs } = options;

  keepRawBody(app);

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

    await Promise.all(reports.map((report) => deliver(providerId, report)));
    return { ok: true };
  };

  async function deliver(providerId: string, report: DeliveryReport): Promise<void> {
    const messageId = report.messageId ?? (await messageIdByProviderId(providerId, report.providerMessageId));
    if (!messageId) return store(providerId, report, undefined, 'unknown_message');
    const signal = temporal.workflow.getHandle(messageId).signal(deliveryReportSignal, { providerId, report });
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<'slow'>((resolve) => {
      timer = setTimeout(() => resolve('slow'), signalBudgetMs);
    });
    try {
      if ((await Promise.race([signal, budget])) === 'slow') {
        // The signal may still land: the workflow treats the reconciler's copy as a duplicate.
        signal.catch(() => undefined);
        return store(providerId, report, messageId, 'temporal_slow');
      }
      metrics.deliveryReports.inc({ provider: providerId, outcome: 'signalled' });
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return store(providerId, report, messageId, 'finished');
      app.log.error({ err: error, messageId }, 'could not signal delivery report; storing it');
      return store(providerId, report, messageId, 'temporal_unreachable');
    } finally {
      clearTimeout(timer);
    }
  }

  async function messageIdByProviderId(providerId: string, providerMessageId: string): Promise<string | undefined> {
    const message = await db.message.findFirst({ where: { providerId, providerMessageId }, select: { id: true } });
    return message?.id;
  }

  async function store(providerId: string, report: DeliveryReport, messageId: string | undefined, reason: StoredReason): Promise<void> {
    await db.deliveryReport.create({
      data: {
        providerId,
        messageId,
        providerMessageId: report.providerMessageId,
        status: report.status,
        payload: { ...report },
        reason,
      },
    });
    metrics.deliveryReports.inc({ provider: providerId, outcome: `stored_${reason}` });
  }

  app.post('/v1/dlr/:provider', { schema: deliveryReportSchema }, handler);
  // Vonage can be set to deliver receipts as GET query strings.
  app.get('/v1/dlr/:provider', { schema: deliveryReportSchema }, handler);
};
