import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createNotifyActivities } from '../activities';
import { createInboundDeliveryActivities } from '../activities/inbound';
import { settlesWithin } from '../concurrency';
import { InboundStarter } from '../inbound/starter';
import { SuppressionList } from '../inbound/suppression';
import { InboxListener } from '../inbox/channel';
import { DeliveryReportReconciler } from '../reconciler/delivery-reports';
import { CALLBACKS_TASK_QUEUE } from '../domain/dispatch';
import { ConfigError, loadConfig, messagePolicyFrom, type Config } from '../config';
import { createDatabase } from '../db/client';
import { reportReady } from '../dev/supervision';
import { createLogger, type Logger } from '../logger';
import { RoutingCatalog } from '../routing/catalog';
import { assertTemporalSetUp, TemporalNotSetUpError } from '../temporal/namespace';
import { connectNativeTemporalClient } from '../temporal/bounded-native-connection';
import { connectTemporalClient, temporalClientOptionsFrom } from '../temporal/connect';
import { DispatchWorkers } from './dispatch';
import { createRouterWorker } from './router';
import { installTemporalRuntime, WORKER_SHUTDOWN } from './runtime';

export interface RunningWorkers {
  readonly dispatch: DispatchWorkers;
  readonly catalog: RoutingCatalog;
  readonly reconciler: DeliveryReportReconciler;
  shutdown(): Promise<void>;
}

/** How often the dispatch workers are matched against the provider table. */
const PROVIDER_SYNC_MS = 1000;
/** How often the forwarder looks at the inbox when no notification woke it (a report's backoff ending, a lost notification). */
const RECONCILE_EVERY_MS = 1000;
/** At most 40 forwarder passes a second under a stream of reports; a lone report is forwarded at once. */
const RECONCILE_PASS_SPACING_MS = 25;
/**
 * A report that could not be settled waits 5 s, then twice as long each time up to 10 min; after
 * 12 failed tries (about 50 minutes) it is parked. Temporal being down for longer parks reports too:
 * they stay stored with their reason, and ops can put them back (README, "Stored delivery reports").
 */
const RECONCILE_RETRY = { retryDelayMs: 5000, maxRetryDelayMs: 10 * 60_000, maxAttempts: 12 } as const;
/** A stored report that matches no message after this long is parked; it stays stored. */
const UNMATCHED_REPORT_GIVE_UP_MS = 24 * 3600 * 1000;
/** Long enough for a full batch with every call at its deadline; a crashed reconciler's claims come back after it. */
const RECONCILE_LEASE_MS = 15 * 60_000;
/**
 * Shutdown: the reconciler's pass and the workers' activities drain at the same time, within
 * WORKERS_STOP_MS (a little above WORKER_SHUTDOWN's force time); closing connections gets CLOSE_MS.
 */
const RECONCILE_DRAIN_MS = 3000;
const WORKERS_STOP_MS = 10_000;
/** Dispatch workers drain their submits in flight, each bounded by the submit timeout: wait for that too. */
const DISPATCH_DRAIN_EXTRA_MS = 2000;
const CLOSE_MS = 2000;

/** The router worker plus one dispatch worker per enabled provider, kept in step with the table. */
export async function startWorkers(
  config: Config,
  logger: Logger,
  options: { workflowBundle?: WorkflowBundleOption } = {},
): Promise<RunningWorkers> {
  installTemporalRuntime();
  // Its own connection: the forwarder's calls never queue behind, or in front of, anyone else's. A
  // native one: the forwarder signals once per delivery report, and grpc-js costs 2.5× the CPU.
  const temporalOptions = temporalClientOptionsFrom(config);
  const reconcilerTemporal = await connectNativeTemporalClient(temporalOptions);
  await assertTemporalSetUp(reconcilerTemporal.connection, config.TEMPORAL_NAMESPACE).catch(async (error: unknown) => {
    await reconcilerTemporal.close();
    throw error;
  });
  // Campaign starts come in bursts of hundreds: on their own connection they never delay the reconciler.
  const campaignTemporal = await connectTemporalClient(temporalOptions);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const db = createDatabase(config.DATABASE_URL);
  const dispatchDb = createDatabase(config.DATABASE_URL);
  const catalog = new RoutingCatalog(db);
  const suppressions = new SuppressionList(db);
  const target = { connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: temporalOptions.dataConverter };
  const router = await createRouterWorker({
    ...target,
    db,
    catalog,
    suppressions,
    workflowBundle: options.workflowBundle,
    workflowStackTraces: config.WORKFLOW_STACK_TRACES,
    policy: messagePolicyFrom(config),
    campaigns: {
      temporal: campaignTemporal.client,
      limits: { maxSegments: config.MAX_SEGMENTS, maxBatchRecipients: config.MAX_BATCH_RECIPIENTS },
      policy: messagePolicyFrom(config),
      startRate: config.CAMPAIGN_START_RATE,
    },
  });
  const dispatch = new DispatchWorkers(
    target,
    // Its own connections: the about-to-send mark on every submit never queues behind status writes.
    { db: dispatchDb, catalog, suppressions: suppressions.through(dispatchDb), publicBaseUrl: config.PUBLIC_BASE_URL, submitTimeoutMs: config.SUBMIT_TIMEOUT_SECONDS * 1000 },
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
    ...target,
    taskQueue: CALLBACKS_TASK_QUEUE,
    activities: {
      ...createNotifyActivities(clientWebhookDependencies),
      ...createInboundDeliveryActivities(clientWebhookDependencies),
    },
    // Client endpoints are slow more often than not; many may wait at once without holding up any.
    maxConcurrentActivityTaskExecutions: 200,
    ...WORKER_SHUTDOWN,
  });

  const policy = messagePolicyFrom(config);
  // Its own connections: forwarding a burst of reports never queues behind the workflows' status writes.
  const forwarderDb = createDatabase(config.DATABASE_URL);
  const inbound = new InboundStarter(forwarderDb, reconcilerTemporal.client, logger, {
    webhookRetrySeconds: policy.callbackRetrySeconds,
    leaseMs: RECONCILE_LEASE_MS,
    retryDelayMs: RECONCILE_RETRY.retryDelayMs,
  });
  const reconciler = new DeliveryReportReconciler(forwarderDb, reconcilerTemporal.client, logger, {
    intervalMs: RECONCILE_EVERY_MS,
    passSpacingMs: RECONCILE_PASS_SPACING_MS,
    giveUpAfterMs: UNMATCHED_REPORT_GIVE_UP_MS,
    ...RECONCILE_RETRY,
    leaseMs: RECONCILE_LEASE_MS,
    drainTimeoutMs: RECONCILE_DRAIN_MS,
    policy,
    inbound,
  });
  const listener = new InboxListener(config.DATABASE_URL, (news) => reconciler.wake(news), logger);
  await listener.start();
  reconciler.start();

  const routerRun = router.run();
  const callbacksRun = callbacks.run();
  return {
    dispatch,
    catalog,
    reconciler,
    /** Bounded whatever a background task waits on: what has not stopped in time is left behind. */
    async shutdown() {
      clearInterval(timer);
      const workersStopMs = Math.max(WORKERS_STOP_MS, dispatch.drainMs + DISPATCH_DRAIN_EXTRA_MS);
      for (const worker of [router, callbacks]) if (worker.getState() === 'RUNNING') worker.shutdown();
      const stopping = Promise.allSettled([listener.close(), reconciler.stop(), syncing.then(async () => dispatch.shutdown()), routerRun, callbacksRun]);
      if (!(await settlesWithin(stopping, workersStopMs))) logger.warn('workers did not stop in time; leaving them behind');
      const closing = Promise.allSettled([connection.close(), reconcilerTemporal.close(), campaignTemporal.close(), db.$disconnect(), dispatchDb.$disconnect(), forwarderDb.$disconnect()]);
      if (!(await settlesWithin(closing, CLOSE_MS))) logger.warn('connections did not close in time');
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
