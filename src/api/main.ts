import type { FastifyInstance } from 'fastify';
import { settlesWithin } from '../concurrency';
import { ConfigError, loadConfig, messagePolicyFrom, type Config } from '../config';
import { createDatabase } from '../db/client';
import { DeliveryReportInbox } from '../inbox/delivery-reports';
import { reportReady } from '../dev/supervision';
import { createLogger, type Logger } from '../logger';
import { RoutingCatalog } from '../routing/catalog';
import { connectTemporalClient, temporalClientOptionsFrom } from '../temporal/connect';
import { assertTemporalSetUp, TemporalNotSetUpError } from '../temporal/namespace';
import { codecPlugin } from './codec';
import { ApiMetrics, buildOpsServer } from './metrics';
import { buildApi } from './server';

export interface RunningApi {
  readonly app: FastifyInstance;
  readonly url: string;
  /** The ops listener's address: `/metrics`. */
  readonly opsUrl: string;
  readonly catalog: RoutingCatalog;
  close(): Promise<void>;
}

/** How long `close()` lets requests in flight finish before cutting their connections, and closing the rest takes. */
const DRAIN_MS = 5000;
const CLOSE_MS = 2000;

export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  const temporalOptions = temporalClientOptionsFrom(config);
  const submits = await connectTemporalClient(temporalOptions);
  await assertTemporalSetUp(submits.connection, config.TEMPORAL_NAMESPACE).catch(async (error: unknown) => {
    await submits.close();
    throw error;
  });
  const db = createDatabase(config.DATABASE_URL);
  const metrics = new ApiMetrics();
  const deliveryReportInbox = new DeliveryReportInbox(
    config.DATABASE_URL,
    { maxRows: config.DLR_INBOX_BATCH_ROWS, lingerMs: config.DLR_INBOX_LINGER_MS, notifySpacingMs: config.DLR_INBOX_NOTIFY_MS },
    logger,
    metrics.inboxFlushed,
  );
  const catalog = new RoutingCatalog(db);
  const app = await buildApi({
    db,
    temporal: submits.client,
    deliveryReportInbox,
    catalog,
    logger,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    maxSegments: config.MAX_SEGMENTS,
    maxBatchRecipients: config.MAX_BATCH_RECIPIENTS,
    policy: messagePolicyFrom(config),
    adminApiKey: config.ADMIN_API_KEY,
    metrics,
    allowPrivateCallbacks: config.CALLBACK_ALLOW_PRIVATE,
    campaignChunkSize: config.CAMPAIGN_CHUNK_SIZE,
    campaignChunksPerRun: config.CAMPAIGN_CHUNKS_PER_RUN,
  });
  const url = await app.listen({ host: config.API_HOST, port: config.API_PORT });
  const ops = buildOpsServer(metrics, db, logger);
  const codec = temporalOptions.dataConverter?.payloadCodecs?.[0];
  if (codec) await ops.register(codecPlugin, { codec, uiOrigins: config.TEMPORAL_UI_ORIGINS });
  const opsUrl = await ops.listen({ host: config.OPS_HOST, port: config.OPS_PORT });
  return {
    app,
    url,
    opsUrl,
    catalog,
    /** Bounded: requests still running after DRAIN_MS lose their connection. */
    async close() {
      const closed = app.close();
      if (!(await settlesWithin(closed, DRAIN_MS))) {
        logger.warn('API requests still in flight at shutdown; closing their connections');
        app.server.closeAllConnections();
        await settlesWithin(closed, CLOSE_MS);
      }
      // Requests are over: whatever the inbox still holds was never acknowledged, but write it anyway.
      const closing = Promise.allSettled([ops.close(), submits.close(), deliveryReportInbox.close().then(async () => db.$disconnect())]);
      if (!(await settlesWithin(closing, CLOSE_MS))) logger.warn('API connections did not close in time');
    },
  };
}

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'api');
  const api = await startApi(config, logger);
  logger.info({ url: api.url, opsUrl: api.opsUrl }, 'API listening');
  const stop = () => void api.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  reportReady(stop);
}

if (require.main === module) {
  run().catch((err) => {
    console.error(err instanceof TemporalNotSetUpError || err instanceof ConfigError ? `api: ${err.message}` : err);
    process.exit(1);
  });
}
