import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { createNotifyActivities } from '../activities';
import { createInboundDeliveryActivities } from '../activities/inbound';
import { DeliveryReportReconciler } from '../reconciler/delivery-reports';
import { CALLBACKS_TASK_QUEUE } from '../domain/dispatch';
import { ConfigError, loadConfig, messagePolicyFrom, type Config } from '../config';
import { createDatabase } from '../db/client';
import { reportReady } from '../dev/supervision';
import { createLogger, type Logger } from '../logger';
import { RoutingCatalog } from '../routing/catalog';
import { assertTemporalSetUp, TemporalNotSetUpError } from '../temporal/namespace';
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
/** How often stored delivery reports are looked at, and how long one that could not be settled waits. */
const RECONCILE_EVERY_MS = 1000;
const RECONCILE_RETRY_MS = 5000;
/** A stored report that matches no message after this long stops being retried; it stays stored. */
const UNMATCHED_REPORT_GIVE_UP_MS = 24 * 3600 * 1000;

/** The router worker plus one dispatch worker per enabled provider, kept in step with the table. */
export async function startWorkers(
  config: Config,
  logger: Logger,
  options: { workflowBundle?: WorkflowBundleOption } = {},
): Promise<RunningWorkers> {
  installTemporalRuntime();
  const temporalConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  await assertTemporalSetUp(temporalConnection, config.TEMPORAL_NAMESPACE).catch(async (error: unknown) => {
    await temporalConnection.close();
    throw error;
  });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const db = createDatabase(config.DATABASE_URL);
  const dispatchDb = createDatabase(config.DATABASE_URL);
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
    // Its own connections: the about-to-send mark on every submit never queues behind status writes.
    { db: dispatchDb, catalog, publicBaseUrl: config.PUBLIC_BASE_URL, submitTimeoutMs: config.SUBMIT_TIMEOUT_SECONDS * 1000 },
    logger,
    config.DISPATCH_HEADROOM,
  );
  const served = async () => (config.DISPATCH_WORKERS ? (await catalog.refresh()).providers.values() : []);
  await dispatch.sync(await served());

  let syncing = Promise.resolve();
  const timer = setInterval(() => {
    syncing = syncing
      .then(async () => dispatch.sync(await served()))
      .catch((error: unknown) => logger.error({ err: error }, 'provider sync failed'));
  }, PROVIDER_SYNC_MS);

  const clientWebhookDependencies = { db, logger, allowPrivateAddresses: config.CALLBACK_ALLOW_PRIVATE };
  const callbacks = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: CALLBACKS_TASK_QUEUE,
    activities: {
      ...createNotifyActivities(clientWebhookDependencies),
      ...createInboundDeliveryActivities(clientWebhookDependencies),
    },
    // Client endpoints are slow more often than not; many may wait at once without holding up any.
    maxConcurrentActivityTaskExecutions: 200,
  });

  const temporal = new Client({ connection: temporalConnection, namespace: config.TEMPORAL_NAMESPACE });
  const reconciler = new DeliveryReportReconciler(db, temporal, logger, {
    intervalMs: RECONCILE_EVERY_MS,
    giveUpAfterMs: UNMATCHED_REPORT_GIVE_UP_MS,
    retryDelayMs: RECONCILE_RETRY_MS,
    policy: messagePolicyFrom(config),
  });
  reconciler.start();

  const routerRun = router.run();
  const callbacksRun = callbacks.run();
  return {
    dispatch,
    catalog,
    async shutdown() {
      clearInterval(timer);
      await syncing;
      await reconciler.stop();
      for (const worker of [router, callbacks]) if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.all([routerRun, callbacksRun, dispatch.shutdown()]);
      await connection.close();
      await temporal.connection.close();
      await Promise.all([db.$disconnect(), dispatchDb.$disconnect()]);
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
  reportReady(stop);
}

if (require.main === module) {
  run().catch((err) => {
    console.error(err instanceof TemporalNotSetUpError || err instanceof ConfigError ? `worker: ${err.message}` : err);
    process.exit(1);
  });
}
