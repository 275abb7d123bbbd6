import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { LRUCache } from 'lru-cache';
import { forEachInOrderPerKey, settlesWithin } from '../concurrency';
import { executeStatement, queryRows, queryRowsInTransaction, type Database } from '../db/client';
import { ROUTER_TASK_QUEUE } from '../domain/dispatch';
import type { ClientNotification, MessagePolicy } from '../domain/message';
import { isMessageId } from '../domain/message-id';
import { isFinalReportStatus, isFinalStatus, type MessageStatus } from '../domain/status';
import type { Logger } from '../logger';
import { preview, storedDeliveryReport } from '../providers/shared/delivery-report';
import type { InboundStarter } from '../inbound/starter';
import type { InboxNews } from '../inbox/channel';
import type { DeliveryReport } from '../providers/types';
import { Prisma } from '../generated/prisma/client';
import { clientCallbacksWorkflow, clientCallbacksWorkflowId, clientNotificationSignal, deliveryReportSignal } from '../workflows';

/** A stored report as a claim returns it; its payload is read back through the webhook's bounds. */
interface ClaimedReport {
  id: bigint;
  providerId: string;
  orderKey: string;
  messageId: string | null;
  payload: unknown;
  receivedAt: Date;
  attempts: number;
  lastError: string | null;
}

/** What the Message row says, where there is one: its status and the provider and part it names. */
interface KnownMessage {
  id: string;
  status: MessageStatus;
  providerId: string | null;
  providerMessageId: string | null;
}

const KNOWN_MESSAGE = { id: true, status: true, providerId: true, providerMessageId: true } as const;

export interface ReconcilerOptions {
  /** How often it looks for work when no notification woke it. */
  readonly intervalMs: number;
  /**
   * While wake-ups keep coming, the least time from one pass's start to the next one's. Every inbox
   * flush notifies, a few hundred a second under load, and each pass costs its claim and its
   * outcome writes whatever it carries: spaced, a pass carries what many flushes wrote.
   */
  readonly passSpacingMs: number;
  /** A report still matching no message after this long is parked (it stays stored). */
  readonly giveUpAfterMs: number;
  /** How long a report that could not be settled waits before its second try; each later wait doubles. */
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
  /** Failed tries after which a report is parked with its last reason. */
  readonly maxAttempts: number;
  /** How long a claimed report is this reconciler's; a crashed reconciler's reports come back after it. */
  readonly leaseMs: number;
  /** How long `stop()` lets the current pass finish before abandoning it. */
  readonly drainTimeoutMs: number;
  readonly policy: MessagePolicy;
  /**
   * Starts inbound messages' workflows in the same drain, in passes of its own: a wake-up for
   * reports claims no inbound messages, and one for inbound messages no reports.
   */
  readonly inbound?: InboundStarter;
}

/**
 * - settled: done with (signalled, applied late, or nothing left to do).
 * - failed: this try did not work (Temporal unreachable, a call past its deadline...): back off, and
 *   park after the last attempt.
 * - unmatched: no message has this report's reference yet; wait for it, up to giveUpAfterMs.
 * - park: can never be settled (a stored report outside the webhook's bounds).
 */
type Outcome =
  | { readonly kind: 'settled' }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'unmatched' }
  | { readonly kind: 'park'; readonly reason: string };

/** Reports claimed per pass, and this many messages' reports settled at once (each message's in order). */
const BATCH = 500;
const SETTLE_CONCURRENCY = 32;
/** Serialises claims between forwarders, so that none claims a report while another holds an earlier one of its key. */
const CLAIM_LOCK = 'smsrouter.delivery-report-claim';
const REASON_LENGTH = 500;
/** Intermediate reports whose signal this forwarder remembers (a few MB): enough for a backlog's repeats. */
const SIGNALLED_KEPT = 50_000;
const SETTLED: Outcome = { kind: 'settled' };

/**
 * The inbox's forwarder: signals every delivery report the webhook wrote into its message's
 * workflow, in the order received per message, and, through `inbound`, starts inbound messages'
 * workflows. Woken by the inbox's notifications (`wake()`), and polls besides. Reports while
 * Temporal is unreachable back off and are signalled once it is back; those for a message not yet
 * known wait for it (matched once the message has its provider id) and are parked after
 * giveUpAfterMs; those for a finished message are late-final handled (a late final report updates
 * an `unknown` outcome; anything else is a duplicate and only kept). The workflow ignores a report
 * it already applied, so a report signalled twice (a lease that ran out mid-call) changes nothing.
 *
 * Each pass claims reports in one short statement (row locks skipped, then a lease; never a report
 * while an earlier one of its key is held or backing off), settles them outside any transaction,
 * one message's in order and many messages at once, and records the outcomes: those settled in one
 * statement, the others one by one, so a report that cannot be settled delays only its message.
 */
export class DeliveryReportReconciler {
  /** Names this reconciler's leases; only the lease holder records an outcome. */
  readonly instance = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private abandoned = false;
  /** What wake-ups announced that no pass has looked for since: the next pass looks for it. */
  private owed: Record<InboxNews, boolean> = { reports: false, inbound: false };
  /** One per report being settled, so that stop() can cancel their Temporal calls. */
  private readonly inFlight = new Set<AbortController>();
  /**
   * Intermediate reports this forwarder signalled (message, provider, part, status). A message's
   * reports are signalled in order, so the workflow has such a report before any repeat of it, and
   * ignores the repeat: the repeat is settled without a signal. While the forwarder is behind, the
   * Message row does not show the status yet (showsStatusOf), and providers repeat reports.
   */
  private readonly signalledIntermediate = new LRUCache<string, true>({ max: SIGNALLED_KEPT });

  constructor(
    private readonly db: Database,
    private readonly temporal: Client,
    private readonly logger: Logger,
    private readonly options: ReconcilerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.options.intervalMs);
  }

  /**
   * Something was written to the inbox (`all`: it may have been, as at each poll): a pass for it
   * now, or right after the current one.
   */
  wake(news: InboxNews | 'all' = 'all'): void {
    if (this.stopping) return;
    if (news !== 'inbound') this.owed.reports = true;
    if (news !== 'reports' && this.options.inbound) this.owed.inbound = true;
    if (this.running) return;
    this.running = this.drain()
      .catch((error: unknown) => this.logger.error({ err: error }, 'delivery report forwarding failed'))
      .finally(() => {
        this.running = undefined;
      });
  }

  /**
   * Lets the current pass finish for drainTimeoutMs, then cancels its Temporal calls and returns:
   * the reports it still held are taken again once their lease runs out.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    const running = this.running;
    if (!running || (await settlesWithin(running, this.options.drainTimeoutMs))) return;
    this.abandoned = true;
    for (const controller of this.inFlight) controller.abort();
    this.logger.warn({ reconciler: this.instance }, 'delivery report reconciler stopped mid-pass; the reports it held are retried when their lease runs out');
  }

  /**
   * Passes until one finds less than a full batch and nothing woke it meanwhile: a backlog drains at
   * once, and reports that keep coming are taken passSpacingMs apart.
   */
  private async drain(): Promise<void> {
    while (!this.stopping && (this.owed.reports || this.owed.inbound)) {
      const wanted = this.owed;
      this.owed = { reports: false, inbound: false };
      const started = Date.now();
      const inboundStarter = wanted.inbound ? this.options.inbound : undefined;
      const [reports, inbound] = await Promise.all([wanted.reports ? this.runOnce() : 0, inboundStarter?.runOnce() ?? 0]);
      const woken = this.owed.reports || this.owed.inbound;
      // A full batch leaves more behind it: the next pass goes on at once.
      const fullReports = reports >= BATCH;
      const fullInbound = inboundStarter !== undefined && inbound >= inboundStarter.batch;
      if (fullReports) this.owed.reports = true;
      if (fullInbound) this.owed.inbound = true;
      const spacing = started + this.options.passSpacingMs - Date.now();
      if (!fullReports && !fullInbound && woken && !this.stopping && spacing > 0) await new Promise((resolve) => setTimeout(resolve, spacing));
    }
  }

  /** One pass over the delivery reports; returns how many it claimed. */
  async runOnce(): Promise<number> {
    const claimed = await this.claim();
    if (claimed.length === 0) return 0;
    const messages = await this.messagesOf(claimed);
    const settled: bigint[] = [];
    // After a report that is tried again, its message's later ones wait: never applied before it.
    const deferred = await forEachInOrderPerKey(claimed, (row) => row.orderKey, SETTLE_CONCURRENCY, async (row) => {
      const outcome = await this.settleAndRecord(row, messages);
      if (outcome === 'settled') settled.push(row.id);
      return outcome !== 'held';
    });
    if (this.abandoned) return claimed.length;
    await this.recordBulk(settled, 'settled');
    await this.recordBulk(
      deferred.map((row) => row.id),
      'deferred',
    );
    return claimed.length;
  }

  /**
   * Oldest first, and not a report while an earlier one of its key is still to be settled but not
   * claimable (held by another forwarder, or backing off): that one goes first, when it can.
   */
  private async claim(): Promise<ClaimedReport[]> {
    const claimed = await queryRowsInTransaction<ClaimedReport & { id: string }>(this.db, [
      Prisma.sql`SELECT pg_advisory_xact_lock(hashtext(${CLAIM_LOCK}))`,
      Prisma.sql`
        WITH pending AS (
          SELECT "id", "orderKey", "nextAttemptAt" <= now() AND ("leasedUntil" IS NULL OR "leasedUntil" <= now()) AS ready
          FROM "DeliveryReport"
          WHERE "processedAt" IS NULL AND "parkedAt" IS NULL),
        blocked AS (
          SELECT "orderKey", min("id") AS "firstBlocked" FROM pending WHERE NOT ready GROUP BY "orderKey")
        UPDATE "DeliveryReport"
        SET "leasedUntil" = now() + make_interval(secs => ${this.options.leaseMs / 1000}), "leasedBy" = ${this.instance}
        WHERE "id" IN (
          SELECT "id" FROM "DeliveryReport"
          WHERE "id" IN (
            SELECT pending."id" FROM pending LEFT JOIN blocked USING ("orderKey")
            WHERE pending.ready AND (blocked."firstBlocked" IS NULL OR pending."id" < blocked."firstBlocked")
            ORDER BY pending."id" LIMIT ${BATCH})
          FOR UPDATE SKIP LOCKED)
        RETURNING "id", "providerId", "orderKey", "messageId", "payload", "receivedAt" AT TIME ZONE 'UTC' AS "receivedAt", "attempts", "lastError"`,
    ]);
    return claimed.map((row) => ({ ...row, id: BigInt(row.id) })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Releases reports this forwarder still holds, marking settled ones processed. Once a pass, as its
   * claim is: straight to node-postgres (see executeStatement).
   */
  private async recordBulk(ids: readonly bigint[], outcome: 'settled' | 'deferred'): Promise<void> {
    if (ids.length === 0) return;
    try {
      await executeStatement(
        this.db,
        Prisma.sql`
        UPDATE "DeliveryReport" SET "leasedUntil" = NULL, "leasedBy" = NULL${outcome === 'settled' ? Prisma.sql`, "processedAt" = now()` : Prisma.empty}
        WHERE "id" = ANY(${ids}::bigint[]) AND "leasedBy" = ${this.instance}`,
      );
    } catch (error) {
      this.logger.error({ err: error, reports: ids.length }, 'could not record delivery report outcomes; they are retried when their lease runs out');
    }
  }

  /** The Message rows of a batch in one query: most reports name their message. */
  private async messagesOf(rows: readonly ClaimedReport[]): Promise<Map<string, KnownMessage>> {
    const ids = [...new Set(rows.flatMap((row) => (row.messageId !== null && isMessageId(row.messageId) ? [row.messageId] : [])))];
    if (ids.length === 0) return new Map();
    const found = await queryRows<KnownMessage>(this.db, Prisma.sql`SELECT "id", "status", "providerId", "providerMessageId" FROM "Message" WHERE "id" = ANY(${ids})`);
    return new Map(found.map((message) => [message.id, message]));
  }

  /**
   * Settles one report; records its outcome unless it was settled (recorded in bulk by the pass).
   * Returns what became of it: 'settled', 'recorded' (parked for good: the next one may go), or
   * 'held' (it will be tried again, and the reports after it wait).
   */
  private async settleAndRecord(row: ClaimedReport, messages: ReadonlyMap<string, KnownMessage>): Promise<'settled' | 'recorded' | 'held'> {
    let outcome: Outcome;
    const controller = new AbortController();
    this.inFlight.add(controller);
    try {
      outcome = await this.temporal.connection.withAbortSignal(controller.signal, () => this.settle(row, messages));
    } catch (error) {
      outcome = { kind: 'failed', reason: reasonOf(error) };
    } finally {
      this.inFlight.delete(controller);
    }
    // Abandoned by stop(): not this report's fault, and the lease brings it back.
    if (this.abandoned) return 'held';
    if (outcome.kind === 'settled') return 'settled';
    try {
      await this.record(row, outcome);
    } catch (error) {
      this.logger.error({ err: error, reportId: String(row.id) }, 'could not record a delivery report outcome; it is retried when its lease runs out');
      return 'held';
    }
    return outcome.kind === 'park' || (outcome.kind === 'failed' && row.attempts + 1 >= this.options.maxAttempts) ? 'recorded' : 'held';
  }

  private async settle(row: ClaimedReport, messages: ReadonlyMap<string, KnownMessage>): Promise<Outcome> {
    let report: DeliveryReport;
    try {
      report = storedDeliveryReport(row.payload);
    } catch (error) {
      return { kind: 'park', reason: `stored report is not a valid delivery report: ${reasonOf(error)}` };
    }
    if (row.messageId !== null && !isMessageId(row.messageId)) {
      return { kind: 'park', reason: `stored report's messageId "${preview(row.messageId)}" is not one of our message ids` };
    }
    const message = row.messageId !== null ? (messages.get(row.messageId) ?? { id: row.messageId }) : await this.messageFor(row.providerId, report);
    if (!message) return this.unmatched(row);
    // Final already: its workflow has ended or ignores reports, so a signal could change nothing.
    if ('status' in message && isFinalStatus(message.status)) {
      if (message.status === 'unknown') await this.applyLateReport(message.id, row.providerId, report);
      return SETTLED;
    }
    // A repeat of an intermediate report: the message shows its status, or this forwarder signalled it.
    const intermediate = isFinalReportStatus(report.status) ? undefined : [message.id, row.providerId, report.providerMessageId, report.status].join('\n');
    if (intermediate !== undefined && (('status' in message && showsStatusOf(message, row.providerId, report)) || this.signalledIntermediate.has(intermediate))) return SETTLED;
    try {
      await this.temporal.workflow.getHandle(message.id).signal(deliveryReportSignal, { providerId: row.providerId, report });
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      // Neither a workflow nor a Message row: a message we do not know (yet).
      if (!('status' in message)) return this.unmatched(row);
      await this.applyLateReport(message.id, row.providerId, report);
      return SETTLED;
    }
    if (intermediate !== undefined) this.signalledIntermediate.set(intermediate, true);
    return SETTLED;
  }

  private unmatched(row: ClaimedReport): Outcome {
    if (Date.now() - row.receivedAt.getTime() > this.options.giveUpAfterMs) return { kind: 'park', reason: 'no message matches it' };
    return { kind: 'unmatched' };
  }

  private async messageFor(providerId: string, report: DeliveryReport): Promise<KnownMessage | undefined> {
    const message = await this.db.message.findFirst({
      where: { providerId, providerMessageId: report.providerMessageId },
      select: KNOWN_MESSAGE,
    });
    return message ?? undefined;
  }

  /** Writes one report's outcome, if this reconciler still holds its lease. */
  private async record(row: ClaimedReport, outcome: Exclude<Outcome, { kind: 'settled' }>): Promise<void> {
    const where = { id: row.id, leasedBy: this.instance };
    const released = { leasedUntil: null, leasedBy: null };
    const context = { reportId: String(row.id), providerId: row.providerId, attempts: row.attempts + 1 };
    switch (outcome.kind) {
      case 'unmatched':
        await this.db.deliveryReport.updateMany({
          where,
          data: { ...released, attempts: { increment: 1 }, nextAttemptAt: this.nextAttemptAt(row.attempts), lastError: 'no message matches it yet' },
        });
        return;
      case 'park':
        await this.park(where, outcome.reason, context);
        return;
      case 'failed': {
        if (row.attempts + 1 >= this.options.maxAttempts) {
          await this.park(where, `gave up after ${row.attempts + 1} attempts: ${outcome.reason}`, context);
          return;
        }
        await this.db.deliveryReport.updateMany({
          where,
          data: { ...released, attempts: { increment: 1 }, nextAttemptAt: this.nextAttemptAt(row.attempts), lastError: outcome.reason },
        });
        // Once per report and reason, not once per pass: the row remembers what it last failed on.
        if (row.lastError !== outcome.reason) {
          this.logger.warn({ ...context, reason: outcome.reason }, 'delivery report cannot be settled yet; retrying with backoff');
        }
        return;
      }
    }
  }

  private async park(where: { id: bigint; leasedBy: string }, reason: string, context: Record<string, unknown>): Promise<void> {
    await this.db.deliveryReport.updateMany({
      where,
      data: { leasedUntil: null, leasedBy: null, attempts: { increment: 1 }, parkedAt: new Date(), lastError: reason },
    });
    this.logger.error({ ...context, reason }, 'delivery report parked; it stays stored and is not retried');
  }

  private nextAttemptAt(previousAttempts: number): Date {
    const delay = Math.min(this.options.maxRetryDelayMs, this.options.retryDelayMs * 2 ** previousAttempts);
    return new Date(Date.now() + delay);
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

/**
 * The message shows the status of this intermediate report, for the provider and part that status
 * came from. Only the workflow writes an intermediate status, once it applied such a report in the
 * attempt it awaits, and it ignores the same status for the same part after that (or keeps it
 * unread, if the attempt has just ended, to no effect): a signal would change nothing. Providers
 * repeat intermediate reports (each retry of an SMSC, a handset out of coverage), and each signal is
 * a workflow task.
 */
function showsStatusOf(message: KnownMessage, providerId: string, report: DeliveryReport): boolean {
  return message.status === report.status && message.providerId === providerId && message.providerMessageId === report.providerMessageId;
}

/** An error as a short reason for the row and the log: messages may quote what they failed on. */
function reasonOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
  const text = error instanceof Error ? `${error.name}: ${error.message}${cause}` : String(error);
  return text.length > REASON_LENGTH ? `${text.slice(0, REASON_LENGTH)}…` : text;
}
