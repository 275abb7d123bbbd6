import { NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { loadConfig, type Config } from '../config';
import { createDatabase } from '../db/client';
import { createLogger, type Logger } from '../logger';
import { RoutingCatalog } from '../routing/catalog';
import { DispatchWorkers } from './dispatch';
import { createRouterWorker } from './router';
import { installTemporalRuntime } from './runtime';

export interface RunningWorkers {
  readonly dispatch: DispatchWorkers;
  readonly catalog: RoutingCatalog;
  shutdown(): Promise<void>;
}

/** How often the dispatch workers are matched against the provider table. */
const PROVIDER_SYNC_MS = 1000;

/** The router worker plus one dispatch worker per enabled provider, kept in step with the table. */
export async function startWorkers(
  config: Config,
  logger: Logger,
  options: { workflowBundle?: WorkflowBundleOption } = {},
): Promise<RunningWorkers> {
  installTemporalRuntime();
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const db = createDatabase(config.DATABASE_URL);
  const catalog = new RoutingCatalog(db);
  const router = await createRouterWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    db,
    catalog,
    workflowBundle: options.workflowBundle,
  });
  const dispatch = new DispatchWorkers(
    connection,
    config.TEMPORAL_NAMESPACE,
    { catalog, publicBaseUrl: config.PUBLIC_BASE_URL, submitTimeoutMs: config.SUBMIT_TIMEOUT_SECONDS * 1000 },
    logger,
  );
  await dispatch.sync((await catalog.refresh()).providers.values());

  let syncing = Promise.resolve();
  const timer = setInterval(() => {
    syncing = syncing
      .then(async () => dispatch.sync((await catalog.refresh()).providers.values()))
      .catch((error: unknown) => logger.error({ err: error }, 'provider sync failed'));
  }, PROVIDER_SYNC_MS);

  const routerRun = router.run();
  return {
    dispatch,
    catalog,
    async shutdown() {
      clearInterval(timer);
      await syncing;
      if (router.getState() === 'RUNNING') router.shutdown();
      await Promise.all([routerRun, dispatch.shutdown()]);
      await connection.close();
      await db.$disconnect();
    },
  };
}

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  const workers = await startWorkers(config, logger);
  logger.info({ providers: workers.dispatch.providerIds }, 'workers running');
  const stop = () => void workers.shutdown().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
