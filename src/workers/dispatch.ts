import type { DataConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createDispatchActivities, type DispatchDependencies, ProviderPools, SubmitPacer } from '../activities';
import { providerTaskQueue, SUBMIT_ACTIVITY_SLACK_MS } from '../domain/dispatch';
import type { Provider } from '../generated/prisma/client';

/** After the drain, the worker's last activities are cancelled; this long later it gives up on them. */
const DISPATCH_FORCE_EXTRA_MS = 2000;

/** Where workers poll, and how they read and write payloads: the same for every worker of a process. */
export interface WorkerTarget {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly dataConverter?: DataConverter;
}

interface RunningDispatchWorker {
  readonly worker: Worker;
  readonly run: Promise<void>;
  /** The settings the worker was created with; a change means a new worker. */
  readonly signature: string;
}

/**
 * One worker per enabled provider, polling `provider.<id>` with (a little under) the provider's
 * agreed rate as the server-side task-queue limit, so every worker process together respects it,
 * and its window as the number of submits in flight. `sync` starts, restarts and stops workers as providers change,
 * without restarting the process.
 */
export class DispatchWorkers {
  private readonly running = new Map<string, RunningDispatchWorker>();
  private readonly pools: ProviderPools;

  constructor(
    private readonly target: WorkerTarget,
    private readonly deps: DispatchDependencies,
    private readonly logger: Logger,
    /** Fraction below the agreed TPS to dispatch at; see DISPATCH_HEADROOM in src/config.ts. */
    private readonly headroom: number,
  ) {
    this.pools = new ProviderPools(deps.submitTimeoutMs);
  }

  /** How long a stopping worker waits for its submits in flight: the longest one, the HTTP timeout plus slack. */
  get drainMs(): number {
    return this.deps.submitTimeoutMs + SUBMIT_ACTIVITY_SLACK_MS;
  }

  get providerIds(): string[] {
    return [...this.running.keys()];
  }

  async sync(providers: Iterable<Provider>): Promise<void> {
    const wanted = new Map<string, Provider>();
    for (const provider of providers) if (provider.enabled) wanted.set(provider.id, provider);

    for (const [id, entry] of this.running) {
      const provider = wanted.get(id);
      if (!provider || signatureOf(provider) !== entry.signature) await this.stop(id);
    }
    for (const [id, provider] of wanted) {
      if (!this.running.has(id)) await this.start(provider);
    }
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.stop(id)));
    await this.pools.close();
  }

  private async start(provider: Provider): Promise<void> {
    const rate = dispatchRate(provider.tps, this.headroom);
    // Stored on the server as the queue's own limit, so it holds from the very first task, before
    // any worker has polled (pollers also send it, and the last one to poll wins).
    await this.target.connection.workflowService.updateTaskQueueConfig({
      namespace: this.target.namespace,
      identity: 'smsrouter',
      taskQueue: providerTaskQueue(provider.id),
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      updateQueueRateLimit: { rateLimit: { requestsPerSecond: rate }, reason: `agreed TPS ${provider.tps} of provider ${provider.id}` },
    });
    const worker = await Worker.create({
      ...this.target,
      taskQueue: providerTaskQueue(provider.id),
      activities: createDispatchActivities(this.deps, this.pools, new SubmitPacer(rate)),
      maxTaskQueueActivitiesPerSecond: rate,
      maxConcurrentActivityTaskExecutions: provider.window,
      // A replaced or stopped worker lets its submits in flight finish: cancelling one would leave
      // its outcome ambiguous. Its longest submit is bounded by the HTTP timeout plus slack.
      shutdownGraceTime: this.drainMs,
      shutdownForceTime: this.drainMs + DISPATCH_FORCE_EXTRA_MS,
    });
    const run = worker.run().catch((error: unknown) => {
      this.logger.error({ err: error, provider: provider.id }, 'dispatch worker stopped');
    });
    this.running.set(provider.id, { worker, run, signature: signatureOf(provider) });
    this.logger.info(
      { provider: provider.id, tps: provider.tps, dispatchRate: rate, window: provider.window },
      'dispatch worker started',
    );
  }

  /** Stops polling and waits for the worker's submits in flight to finish (see shutdownGraceTime). */
  private async stop(id: string): Promise<void> {
    const entry = this.running.get(id);
    if (!entry) return;
    this.running.delete(id);
    if (entry.worker.getState() === 'RUNNING') entry.worker.shutdown();
    await entry.run;
    this.logger.info({ provider: id }, 'dispatch worker stopped');
  }
}

/**
 * The server's limiter lets rate + 1 tasks through at once from idle, then `rate` a second; a
 * provider allowing "N per second" takes N at once, then N a second. Dispatching at most N − 2 a
 * second keeps a request's worth of slack for network jitter from the very first second, and the
 * headroom keeps slack growing after that.
 */
export function dispatchRate(tps: number, headroom: number): number {
  const rate = tps * (1 - headroom);
  return tps > 3 ? Math.min(rate, tps - 2) : rate;
}

function signatureOf(provider: Provider): string {
  return `${provider.tps}/${provider.window}`;
}
