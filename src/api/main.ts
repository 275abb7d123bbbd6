import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, messagePolicyFrom, type Config } from '../config';
import { createDatabase } from '../db/client';
import { reportReady } from '../dev/supervision';
import { createLogger, type Logger } from '../logger';
import { RoutingCatalog } from '../routing/catalog';
import { assertTemporalSetUp, TemporalNotSetUpError } from '../temporal/namespace';
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

export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  await assertTemporalSetUp(connection, config.TEMPORAL_NAMESPACE).catch(async (error: unknown) => {
    await connection.close();
    throw error;
  });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const db = createDatabase(config.DATABASE_URL);
  const catalog = new RoutingCatalog(db);
  const metrics = new ApiMetrics();
  const app = await buildApi({
    db,
    temporal,
    catalog,
    logger,
    publicBaseUrl: config.PUBLIC_BASE_URL,
    maxSegments: config.MAX_SEGMENTS,
    maxBatchRecipients: config.MAX_BATCH_RECIPIENTS,
    dlrSignalBudgetMs: config.DLR_SIGNAL_BUDGET_MS,
    policy: messagePolicyFrom(config),
    adminApiKey: config.ADMIN_API_KEY,
    metrics,
    allowPrivateCallbacks: config.CALLBACK_ALLOW_PRIVATE,
  });
  const url = await app.listen({ host: config.API_HOST, port: config.API_PORT });
  const ops = buildOpsServer(metrics, logger);
  const opsUrl = await ops.listen({ host: config.OPS_HOST, port: config.OPS_PORT });
  return {
    app,
    url,
    opsUrl,
    catalog,
    async close() {
      await app.close();
      await ops.close();
      await connection.close();
      await db.$disconnect();
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
