import { createHash } from 'node:crypto';
import { Pool } from 'pg';
import type { Logger } from '../logger';
import type { DeliveryReport } from '../providers/types';
import { INBOX_CHANNEL } from './channel';
import { GroupCommit, type GroupCommitOptions } from './group-commit';

/** A delivery report as the inbox keeps it. */
export interface InboxReport {
  readonly providerId: string;
  readonly report: DeliveryReport;
}

/**
 * Reports with one key are forwarded one at a time, in the order they were received: by our
 * message id where the provider echoed it, else by the provider's id for the part it reports on.
 */
export function deliveryReportOrderKey(providerId: string, messageId: string | undefined | null, providerMessageId: string): string {
  const key = messageId ?? `${providerId}:${providerMessageId}`;
  // Indexed: a stored reference longer than any of ours (rows kept before the webhook's bounds) is
  // keyed by its digest, as the migration keys such rows.
  return key.length > MAX_PLAIN_KEY ? `sha256:${createHash('sha256').update(key).digest('hex')}` : key;
}

const MAX_PLAIN_KEY = 200;

/** How the inbox's connection shows in pg_stat_activity. */
export const INBOX_APPLICATION_NAME = 'smsrouter-inbox';

export interface InboxOptions extends GroupCommitOptions {
  /**
   * The least time between two notifications: a flush after a quiet spell notifies in its own
   * statement, and the flushes within this time after it share one notification sent at its end,
   * after they committed. Every written report is so announced within this time. 0: every flush.
   */
  readonly notifySpacingMs: number;
}

/** Told of each flush that wrote: how many reports, and how long their INSERT and its commit took. */
export type InboxFlushObserver = (rows: number, seconds: number) => void;

/**
 * The delivery report inbox's write side: the webhook's reports from concurrent requests, written by
 * one multi-row INSERT per flush, which also wakes the forwarder (at most every notifySpacingMs). A
 * report is durable, and may be acknowledged, once its `append` resolves.
 *
 * It writes on a connection of its own, through node-postgres rather than Prisma: flushes run one at
 * a time, so one connection is all they use, and at 1,000 reports/s most flushes carry a few rows,
 * where Prisma's own work per statement was over half of the write's CPU in the API (a profile of
 * `npm run bench -- dlr-ack --cpu-prof`).
 */
export class DeliveryReportInbox {
  private readonly commits: GroupCommit<InboxReport>;
  private readonly pool: Pool;
  private lastNotifiedAt = Number.NEGATIVE_INFINITY;
  /** The notification owed for flushes that wrote without one. */
  private owed: NodeJS.Timeout | undefined;

  constructor(
    databaseUrl: string,
    private readonly options: InboxOptions,
    private readonly logger: Logger,
    private readonly flushed: InboxFlushObserver = () => undefined,
  ) {
    this.pool = new Pool({ connectionString: databaseUrl, max: 1, application_name: INBOX_APPLICATION_NAME });
    // An idle connection that drops (PostgreSQL restarted) is replaced on the next flush; unheard,
    // the pool's error event would end the process.
    this.pool.on('error', (error) => logger.warn({ err: error }, 'delivery report inbox lost its idle database connection'));
    this.commits = new GroupCommit((rows) => this.write(rows), options);
  }

  append(reports: readonly InboxReport[]): Promise<void> {
    return this.commits.append(reports);
  }

  /** Writes what is queued and the notification it owes, then closes the connection. */
  async close(): Promise<void> {
    await this.commits.close();
    if (this.owed) {
      clearTimeout(this.owed);
      await this.notify();
    }
    await this.pool.end();
  }

  private async write(rows: readonly InboxReport[]): Promise<void> {
    const now = Date.now();
    const notifies = this.owed === undefined && now - this.lastNotifiedAt >= this.options.notifySpacingMs;
    if (notifies) this.lastNotifiedAt = now;
    const started = performance.now();
    await insertReports(this.pool, rows, notifies);
    this.flushed(rows.length, (performance.now() - started) / 1000);
    // Owed only once the rows committed: the forwarder it wakes must find them. One already owed
    // queues behind this write on the inbox's one connection, so it comes after them too.
    if (!notifies && this.owed === undefined) {
      this.owed = setTimeout(() => void this.notify(), Math.max(0, this.lastNotifiedAt + this.options.notifySpacingMs - Date.now()));
    }
  }

  private async notify(): Promise<void> {
    this.owed = undefined;
    this.lastNotifiedAt = Date.now();
    try {
      await this.pool.query(NOTIFY);
    } catch (error) {
      // Missing a notification costs only latency: the forwarder still polls.
      this.logger.warn({ err: error }, 'delivery report inbox could not notify the forwarder');
    }
  }
}

/**
 * One statement, so one round trip: the rows, in their order, and the notification on commit. The
 * rows travel as one JSON parameter (one JSON.stringify for the batch instead of six array literals
 * built element by element), and the statement is prepared once per connection.
 */
const INSERT = `
  INSERT INTO "DeliveryReport" ("providerId", "messageId", "providerMessageId", "status", "payload", "orderKey")
  SELECT provider, message, part, status, payload, key
  FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (provider text, message text, part text, status text, payload jsonb, key text))
    WITH ORDINALITY AS row(provider, message, part, status, payload, key, position)
  ORDER BY position`;

const INSERT_REPORTS = { name: 'smsrouter-inbox-insert', text: INSERT } as const;
const INSERT_REPORTS_AND_NOTIFY = {
  name: 'smsrouter-inbox-insert-notify',
  text: `WITH inserted AS (${INSERT} RETURNING 1) SELECT pg_notify('${INBOX_CHANNEL}', count(*)::text) FROM inserted`,
} as const;
const NOTIFY = { name: 'smsrouter-inbox-notify', text: `SELECT pg_notify('${INBOX_CHANNEL}', '')` } as const;

async function insertReports(pool: Pool, rows: readonly InboxReport[], notify: boolean): Promise<void> {
  const records = rows.map(({ providerId, report }) => ({
    provider: providerId,
    message: report.messageId ?? null,
    part: report.providerMessageId,
    status: report.status,
    payload: report,
    key: deliveryReportOrderKey(providerId, report.messageId, report.providerMessageId),
  }));
  await pool.query({ ...(notify ? INSERT_REPORTS_AND_NOTIFY : INSERT_REPORTS), values: [JSON.stringify(records)] });
}
