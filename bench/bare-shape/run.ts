import { Client, Connection, type WorkflowStartOptions } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { performance } from 'node:perf_hooks';
import { mapConcurrently } from '../../src/concurrency';
import { steadyRate } from '../load';
import { createBareShapeActivities } from './activities';
import { FINGERPRINT_MEMO } from '../../src/client/client';
import { fingerprintOf } from '../../src/client/request';
import { acceptedSearchAttributes } from '../../src/domain/search-attributes';
import { BARE_DISPATCH_TASK_QUEUE, BARE_ROUTER_TASK_QUEUE, bareMessageWorkflow, type RouterFeatures } from './workflows';

export interface BareShapeRun {
  /** Workflows per second, from the first start to the last completion. */
  readonly rate: number;
  /** Workflows per second over the middle of the run (steadyRate of the final status times). */
  readonly steadyRate: number;
  readonly historyEvents: number;
  /** The workflow ids of the round. */
  readonly ids: readonly string[];
}

export interface BareShapeOptions {
  readonly address: string;
  readonly namespace?: string;
}

/** Workers and a client for bare workflows, ready to run rounds of them. */
export interface BareShape {
  /**
   * Runs `count` workflows, at most `concurrency` being started at once, and waits for them all;
   * with `routerFeatures`, each uses what the router asks of Temporal beyond the shape (workflows.ts).
   */
  run(count: number, concurrency: number, routerFeatures?: RouterFeatures): Promise<BareShapeRun>;
  close(): Promise<void>;
}

/**
 * Starts workers for bare message-shaped workflows against a Temporal server, tuned as the router's
 * are (same pollers and slots). Their set-up (bundling the workflow code) comes before any round, so
 * a caller measuring a round measures the workflows alone.
 */
export async function startBareShape(options: BareShapeOptions): Promise<BareShape> {
  const namespace = options.namespace ?? 'default';
  const connection = await NativeConnection.connect({ address: options.address });
  const clientConnection = await Connection.connect({ address: options.address });
  const client = new Client({ connection: clientConnection, namespace });
  let reportFailures = 0;
  // By id: a local activity runs again if its workflow task fails, and the first time counts.
  const finishedAt = new Map<string, number>();
  const activities = createBareShapeActivities(client, {
    onReportFailed: () => {
      reportFailures += 1;
    },
    onFinal: (id) => {
      if (!finishedAt.has(id)) finishedAt.set(id, Date.now());
    },
  });
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows'), logger: new DefaultLogger('WARN') });
  const router = await Worker.create({
    connection,
    namespace,
    taskQueue: BARE_ROUTER_TASK_QUEUE,
    workflowBundle,
    activities,
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentWorkflowTaskPolls: 20,
    maxConcurrentLocalActivityExecutions: 200,
    workflowThreadPoolSize: 2,
  });
  const dispatch = await Worker.create({
    connection,
    namespace,
    taskQueue: BARE_DISPATCH_TASK_QUEUE,
    activities,
    maxConcurrentActivityTaskExecutions: 100,
  });
  // The workers run until close(); each round runs while they do.
  const stopWorkers = new AbortController();
  const running = router.runUntil(dispatch.runUntil(new Promise<void>((resolveStop) => stopWorkers.signal.addEventListener('abort', () => resolveStop()))));
  let rounds = 0;

  /** A round, unless the workers fail first (a round would then wait for ever). */
  function run(count: number, concurrency: number, routerFeatures?: RouterFeatures): Promise<BareShapeRun> {
    const stoppedEarly = running.then(() => Promise.reject(new Error('the bare workers stopped during a round')));
    return Promise.race([round(count, concurrency, routerFeatures), stoppedEarly]);
  }

  async function round(count: number, concurrency: number, routerFeatures: RouterFeatures | undefined): Promise<BareShapeRun> {
    const roundId = `${Date.now().toString(36)}-${(rounds += 1)}`;
    const ids = Array.from({ length: count }, (_, index) => `bare-${roundId}-${index}`);
    finishedAt.clear();
    const started = performance.now();
    await mapConcurrently(ids, concurrency, (id) =>
      client.workflow.start(bareMessageWorkflow, {
        workflowId: id,
        taskQueue: BARE_ROUTER_TASK_QUEUE,
        args: [id, routerFeatures],
        ...(routerFeatures ? routerStartOptions(id) : {}),
      }),
    );
    await Promise.all(ids.map((id) => client.workflow.getHandle(id).result()));
    const seconds = (performance.now() - started) / 1000;
    if (reportFailures > 0) throw new Error(`${reportFailures} bare reports could not be signalled`);
    const sample = ids[Math.floor(ids.length / 2)] ?? '';
    const history = await client.workflow.getHandle(sample).fetchHistory();
    return { rate: ids.length / seconds, steadyRate: steadyRate([...finishedAt.values()]), historyEvents: history.events?.length ?? 0, ids };
  }

  async function close(): Promise<void> {
    stopWorkers.abort();
    try {
      await running;
    } finally {
      await clientConnection.close();
      await connection.close();
    }
  }

  return { run, close };
}

/** What the router's client adds to a message workflow's start: search attributes for the Temporal UI, the request's fingerprint. */
function routerStartOptions(id: string): Pick<WorkflowStartOptions, 'memo' | 'typedSearchAttributes'> {
  return {
    memo: { [FINGERPRINT_MEMO]: fingerprintOf({ to: '+4520123456', from: 'Bench', body: id, callbackUrl: null, sendAt: null, validitySeconds: null }) },
    typedSearchAttributes: acceptedSearchAttributes({ accountId: 'bare', country: 'DK' }),
  };
}
