import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/client';
import type { InboxFlushObserver } from '../inbox/delivery-reports';

/** Finer than prom-client's default below 10 ms: a delivery report is acknowledged in a few. */
const MILLISECOND_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5];

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
    help: 'Delivery reports received, by provider and outcome: stored (in the inbox, acknowledged) or unavailable (the write failed; answered 503).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly deliveryReportAck = new Histogram({
    name: 'smsrouter_delivery_report_ack_seconds',
    help: 'Time a delivery report callback spent in the API, from its arrival to its answer, by outcome: acknowledged (2xx) or refused.',
    labelNames: ['outcome'] as const,
    buckets: MILLISECOND_BUCKETS,
    registers: [this.registry],
  });

  readonly inboxFlushSeconds = new Histogram({
    name: 'smsrouter_delivery_report_inbox_flush_seconds',
    help: 'Time one flush of the delivery report inbox took to write its reports: one INSERT and its commit, shared by the callbacks it carried.',
    buckets: MILLISECOND_BUCKETS,
    registers: [this.registry],
  });

  readonly inboxFlushRows = new Histogram({
    name: 'smsrouter_delivery_report_inbox_flush_rows',
    help: 'Delivery reports one flush of the inbox wrote.',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  });

  readonly inboxFlushed: InboxFlushObserver = (rows, seconds) => {
    this.inboxFlushRows.observe(rows);
    this.inboxFlushSeconds.observe(seconds);
  };

  readonly storedReportBacklog = this.gauge(
    'smsrouter_stored_delivery_reports_backlog',
    'Delivery reports in the inbox the forwarder has yet to settle (parked ones not included).',
  );

  readonly storedReportOldestAge = this.gauge(
    'smsrouter_stored_delivery_reports_oldest_age_seconds',
    'Age of the oldest stored delivery report yet to be settled; 0 when there is none.',
  );

  readonly storedReportsParked = this.gauge(
    'smsrouter_stored_delivery_reports_parked',
    'Stored delivery reports given up on (see DeliveryReport.lastError); they stay stored.',
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }
}

interface BacklogRow {
  waiting: bigint;
  parked: bigint;
  oldest: Date | null;
}

/**
 * The stored-report gauges, read from PostgreSQL at scrape time. The backlog belongs to the
 * database, not to a process: it is right however many worker processes run, and still reported
 * when none does, which is when it matters. The query reads only unsettled rows, by index.
 */
async function refreshBacklog(db: Database, metrics: ApiMetrics): Promise<void> {
  const [row] = await db.$queryRaw<BacklogRow[]>`
    SELECT count(*) FILTER (WHERE "parkedAt" IS NULL) AS "waiting",
           count(*) FILTER (WHERE "parkedAt" IS NOT NULL) AS "parked",
           min("receivedAt") FILTER (WHERE "parkedAt" IS NULL) AS "oldest"
    FROM "DeliveryReport" WHERE "processedAt" IS NULL`;
  metrics.storedReportBacklog.set(Number(row?.waiting ?? 0));
  metrics.storedReportsParked.set(Number(row?.parked ?? 0));
  metrics.storedReportOldestAge.set(row?.oldest ? Math.max(0, (Date.now() - row.oldest.getTime()) / 1000) : 0);
}

/**
 * The ops listener: `GET /metrics` in Prometheus text format, on its own address (OPS_HOST,
 * OPS_PORT; loopback by default) so the public listener never shows it.
 */
export function buildOpsServer(metrics: ApiMetrics, db: Database, logger: FastifyBaseLogger): FastifyInstance {
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/metrics', async (request, reply) => {
    // A scrape without the backlog beats no scrape: the other metrics still say something.
    await refreshBacklog(db, metrics).catch((error: unknown) => request.log.warn({ err: error }, 'could not read the stored delivery report backlog'));
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return app;
}
