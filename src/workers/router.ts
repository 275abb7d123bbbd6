import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createRouterActivities } from '../activities';
import type { Database } from '../db/client';
import { ROUTER_TASK_QUEUE } from '../domain/dispatch';
import type { RoutingCatalog } from '../routing/catalog';
import { WORKER_SHUTDOWN } from './runtime';

export interface RouterWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly db: Database;
  readonly catalog: RoutingCatalog;
  /** A prebuilt bundle (tests and benchmarks build it once); otherwise the workflows are bundled here. */
  readonly workflowBundle?: WorkflowBundleOption;
}

/** Runs the message workflows and their local activities (routing, status writes). */
export function createRouterWorker(options: RouterWorkerOptions): Promise<Worker> {
  const workflowSource = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath: require.resolve('../workflows') };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: ROUTER_TASK_QUEUE,
    ...workflowSource,
    activities: createRouterActivities(options.db, options.catalog),
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentWorkflowTaskPolls: 20,
    maxConcurrentLocalActivityExecutions: 200,
    workflowThreadPoolSize: 2,
    ...WORKER_SHUTDOWN,
  });
}
