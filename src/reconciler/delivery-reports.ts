import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Database } from '../db/client';
import type { ClientNotification, MessagePolicy } from '../domain/message';
import { isFinalReportStatus } from '../domain/status';
import type { Logger } from '../logger';
import type { DeliveryReport } from '../providers/types';
import { clientCallbacksWorkflow, clientCallbacksWorkflowId, clientNotificationSignal, deliveryReportSignal } from '../workflows';
import { ROUTER_TASK_QUEUE } from '../domain/dispatch';

interface StoredReport {
  id: bigint;
  providerId: string;
  messageId: string | null;
  providerMessageId: string | null;
  payload: DeliveryReport;
  receivedAt: Date;
}

export interface ReconcilerOptions {
  readonly intervalMs: number;
  /** A report still matching no message after this long is given up (it stays stored). */
  readonly giveUpAfterMs: number;
  /** How long a report that could not be settled waits before the next try. */
  readonly retryDelayMs: number;
  readonly policy: MessagePolicy;
}

/** Reports handled per pass; each pass holds its rows locked, so several workers share the work. */
const BATCH = 200;
const SIGNAL_CONCURRENCY = 20;

async function forEachConcurrently<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < items.length; index = next++) {
      const item = items[index];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

/**
 * Delivers the delivery reports the webhook had to store: those that arrived while Temporal was
 * unreachable (signalled once it is back), those for a message not yet known (matched once the
 * message has its provider id), and those for a finished message (a late final report updates an
 * `unknown` outcome; anything else is a duplicate and only kept).
 */
export class DeliveryReportReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Database,
    private readonly temporal: Client,
    private readonly logger: Logger,
    private readonly options: ReconcilerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.drain()
        .catch((error: unknown) => this.logger.error({ err: error }, 'delivery report reconciliation failed'))
        .finally(() => {
          this.running = undefined;
        });
    }, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Passes until a pass finds less than a full batch: a backlog after an outage drains at once. */
  private async drain(): Promise<void> {
    while ((await this.runOnce()) >= BATCH);
  }

  /** One pass; returns how many stored reports it looked at. */
  async runOnce(): Promise<number> {
    return this.db.$transaction(
      async (tx) => {
        const rows = await tx.$queryRaw<StoredReport[]>`
          SELECT "id", "providerId", "messageId", "providerMessageId", "payload", "receivedAt"
          FROM "DeliveryReport" WHERE "processedAt" IS NULL AND "nextAttemptAt" <= now()
          ORDER BY "nextAttemptAt" LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`;
        const settled: bigint[] = [];
        const postponed: bigint[] = [];
        await forEachConcurrently(rows, SIGNAL_CONCURRENCY, async (row) => {
          (await this.settle(row)) ? settled.push(row.id) : postponed.push(row.id);
        });
        if (settled.length > 0) {
          await tx.deliveryReport.updateMany({ where: { id: { in: settled } }, data: { processedAt: new Date() } });
        }
        if (postponed.length > 0) {
          // Out of the way of newer reports until the message or Temporal may have caught up.
          await tx.deliveryReport.updateMany({
            where: { id: { in: postponed } },
            data: { nextAttemptAt: new Date(Date.now() + this.options.retryDelayMs) },
          });
        }
        return rows.length;
      },
      { timeout: 60_000 },
    );
  }

  private async settle(row: StoredReport): Promise<boolean> {
    const messageId = row.messageId ?? (await this.messageIdFor(row));
    if (!messageId) return Date.now() - row.receivedAt.getTime() > this.options.giveUpAfterMs;
    try {
      await this.temporal.workflow.getHandle(messageId).signal(deliveryReportSignal, { providerId: row.providerId, report: row.payload });
      return true;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) {
        this.logger.warn({ err: error, messageId }, 'delivery report still cannot be signalled');
        return false;
      }
    }
    await this.applyLateReport(messageId, row.providerId, row.payload);
    return true;
  }

  private async messageIdFor(row: StoredReport): Promise<string | undefined> {
    if (!row.providerMessageId) return undefined;
    const message = await this.db.message.findFirst({
      where: { providerId: row.providerId, providerMessageId: row.providerMessageId },
      select: { id: true },
    });
    return message?.id;
  }

  /**
   * The message's workflow has ended. A final report for a message that ended `unknown` on this
   * provider is its real outcome: record it, and tell the client. Nothing is resent.
   */
  private async applyLateReport(messageId: string, providerId: string, report: DeliveryReport): Promise<void> {
    if (!isFinalReportStatus(report.status)) return;
    const message = await this.db.message.findUnique({
      where: { id: messageId },
      select: { status: true, providerId: true, clientRef: true, callbackUrl: true, country: true, events: { orderBy: { sequence: 'desc' }, take: 1 } },
    });
    if (!message || message.status !== 'unknown' || message.providerId !== providerId) return;
    const sequence = (message.events[0]?.sequence ?? 0) + 1;
    const occurredAt = new Date(report.occurredAt);
    const reason = `late delivery report: ${report.errorReason ?? report.providerStatus}`;
    await this.db.$transaction([
      this.db.messageEvent.create({
        data: {
          messageId,
          sequence,
          status: report.status,
          providerId,
          providerMessageId: report.providerMessageId,
          country: message.country,
          errorCode: report.errorCode,
          reason,
          occurredAt,
        },
      }),
      this.db.message.update({
        where: { id: messageId },
        data: { status: report.status, errorCode: report.errorCode ?? null, errorReason: report.errorCode ? reason : null, completedAt: occurredAt },
      }),
    ]);
    if (message.callbackUrl) {
      const notification: ClientNotification = {
        id: messageId,
        clientRef: message.clientRef ?? undefined,
        sequence,
        status: report.status,
        providerId,
        errorCode: report.errorCode,
        reason,
        occurredAt: occurredAt.toISOString(),
      };
      // Callbacks do not send SMS, so starting their workflow anew for this one is safe.
      await this.temporal.workflow.signalWithStart(clientCallbacksWorkflow, {
        workflowId: clientCallbacksWorkflowId(messageId),
        taskQueue: ROUTER_TASK_QUEUE,
        args: [{ messageId, callbackUrl: message.callbackUrl, retrySeconds: this.options.policy.callbackRetrySeconds }],
        signal: clientNotificationSignal,
        signalArgs: [notification],
      });
    }
    this.logger.info({ messageId, status: report.status }, 'late delivery report applied');
  }
}
