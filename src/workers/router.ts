import { Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createRouterActivities } from '../activities';
import { createCampaignActivities, type CampaignActivityDependencies } from '../activities/campaigns';
import { createInboundActivities } from '../activities/inbound';
import type { SuppressionList } from '../inbound/suppression';
import type { Database } from '../db/client';
import { ROUTER_TASK_QUEUE } from '../domain/dispatch';
import type { MessagePolicy } from '../domain/message';
import type { RoutingCatalog } from '../routing/catalog';
import type { WorkerTarget } from './dispatch';
import { WORKER_SHUTDOWN } from './runtime';
import { workflowBundleSettings } from './workflow-bundle';

export interface RouterWorkerOptions extends WorkerTarget {
  readonly db: Database;
  readonly catalog: RoutingCatalog;
  /** A prebuilt bundle (tests and benchmarks build it once); otherwise the workflows are bundled here. */
  readonly workflowBundle?: WorkflowBundleOption;
  /** Whether workflows bundled here keep their stack traces (WORKFLOW_STACK_TRACES). */
  readonly workflowStackTraces: boolean;
  /** The policy of the messages the router sends itself (keyword replies); the SDK's defaults unless given. */
  readonly policy?: MessagePolicy;
  /** One list for routing, inbound and the submits: an opt-out or opt-in applied here holds for the next message at once. */
  readonly suppressions: SuppressionList;
  /** What the campaign activities start messages with. */
  readonly campaigns: Omit<CampaignActivityDependencies, 'db' | 'catalog'>;
}

/** Runs the message workflows and their local activities (routing, status writes). */
export function createRouterWorker(options: RouterWorkerOptions): Promise<Worker> {
  const { workflowsPath, preloadModules } = workflowBundleSettings(options.workflowStackTraces);
  const workflowSource = options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath, bundlerOptions: { preloadModules } };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    dataConverter: options.dataConverter,
    taskQueue: ROUTER_TASK_QUEUE,
    ...workflowSource,
    activities: { ...createRouterActivities(options.db, options.catalog, options.suppressions), ...createInboundActivities(options.db, options.suppressions, options.policy),
      ...createCampaignActivities({ ...options.campaigns, db: options.db, catalog: options.catalog }),
    },
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentWorkflowTaskPolls: 20,
    maxConcurrentLocalActivityExecutions: 200,
    workflowThreadPoolSize: 2,
    ...WORKER_SHUTDOWN,
  });
}
