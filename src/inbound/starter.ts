import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { forEachInOrderPerKey } from '../concurrency';
import { queryRowsInTransaction, type Database } from '../db/client';
import { ROUTER_TASK_QUEUE } from '../domain/dispatch';
import { inboundPairWorkflowId } from '../domain/inbound';
import { Prisma } from '../generated/prisma/client';
import type { Logger } from '../logger';
import { inboundArrivedSignal, inboundMessageWorkflow, inboundPairWorkflow } from '../workflows/inbound';
import type { StoredInbound } from './store';

export interface InboundStarterOptions {
  /** How long each inbound message is retried to the account's webhook. */
  readonly webhookRetrySeconds: number;
  /** How long a claimed message is this starter's; a crashed one's come back after it. */
  readonly leaseMs: number;
  /** How long a message whose start failed waits before the next try. */
  readonly retryDelayMs: number;
}

type ClaimedInbound = Omit<StoredInbound, 'created'>;

const BATCH = 200;
const START_CONCURRENCY = 16;
/** Serialises claims between starters, so that none starts a message while another holds an earlier one of its pair. */
const CLAIM_LOCK = 'smsrouter.inbound-start-claim';

/**
 * Makes stored inbound messages workflows: the webhook acknowledged them once stored, so Temporal
 * may have been down; this starts each one, however late, in arrival order per number pair. A
 * message to an owned number goes to its pair's workflow, which runs the message's own; any other
 * message's workflow starts on its own. Starting twice is harmless: the pair workflow ignores a
 * message it already has, and the message workflow's id is the message's.
 */
export class InboundStarter {
  readonly batch = BATCH;

  constructor(
    private readonly db: Database,
    private readonly temporal: Client,
    private readonly logger: Logger,
    private readonly options: InboundStarterOptions,
  ) {}

  /** One pass; returns how many messages it claimed. */
  async runOnce(): Promise<number> {
    const claimed = await this.claim();
    if (claimed.length === 0) return 0;
    const started: string[] = [];
    const failed: string[] = [];
    const waiting = await forEachInOrderPerKey(claimed, pairKey, START_CONCURRENCY, async (message) => {
      try {
        await this.start(message);
        started.push(message.id);
        return true;
      } catch (error) {
        this.logger.warn({ err: error, inboundId: message.id }, 'could not start an inbound workflow; retrying');
        failed.push(message.id);
        return false;
      }
    });
    if (started.length > 0) {
      await this.db.inboundMessage.updateMany({ where: { id: { in: started } }, data: { workflowStartedAt: new Date(), startLeasedUntil: null } });
    }
    const retry = [...failed, ...waiting.map((message) => message.id)];
    if (retry.length > 0) {
      await this.db.inboundMessage.updateMany({ where: { id: { in: retry } }, data: { startLeasedUntil: new Date(Date.now() + this.options.retryDelayMs) } });
    }
    return claimed.length;
  }

  private async claim(): Promise<ClaimedInbound[]> {
    const claimed = await queryRowsInTransaction<ClaimedInbound & { createdAt: Date }>(this.db, [
      Prisma.sql`SELECT pg_advisory_xact_lock(hashtext(${CLAIM_LOCK}))`,
      Prisma.sql`
        UPDATE "InboundMessage"
        SET "startLeasedUntil" = now() + make_interval(secs => ${this.options.leaseMs / 1000})
        WHERE "id" IN (
          SELECT m."id" FROM "InboundMessage" m
          WHERE m."workflowStartedAt" IS NULL AND (m."startLeasedUntil" IS NULL OR m."startLeasedUntil" <= now())
            AND NOT EXISTS (
              SELECT 1 FROM "InboundMessage" e
              WHERE e."workflowStartedAt" IS NULL AND e."startLeasedUntil" > now() AND e."createdAt" < m."createdAt"
                AND e."accountId" = m."accountId" AND e."from" = m."from" AND e."to" = m."to")
          ORDER BY m."createdAt", m."id" LIMIT ${BATCH}
          FOR UPDATE SKIP LOCKED)
        RETURNING "id", "accountId", "from", "to", "createdAt" AT TIME ZONE 'UTC' AS "createdAt"`,
    ]);
    return claimed.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
  }

  private async start(message: ClaimedInbound): Promise<void> {
    try {
      if (message.accountId === null) {
        await this.temporal.workflow.start(inboundMessageWorkflow, {
          workflowId: message.id,
          taskQueue: ROUTER_TASK_QUEUE,
          args: [{ inboundId: message.id }],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
        return;
      }
      await this.temporal.workflow.signalWithStart(inboundPairWorkflow, {
        workflowId: inboundPairWorkflowId(message.accountId, message.from, message.to),
        taskQueue: ROUTER_TASK_QUEUE,
        args: [{ webhookRetrySeconds: this.options.webhookRetrySeconds }],
        signal: inboundArrivedSignal,
        signalArgs: [{ inboundId: message.id }],
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }
}

/** Messages to an owned number are told in order per number pair; any other stands alone. */
function pairKey(message: ClaimedInbound): string {
  return message.accountId === null ? message.id : inboundPairWorkflowId(message.accountId, message.from, message.to);
}
