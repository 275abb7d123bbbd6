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

/**
 * The delivery report inbox's write side: the webhook's reports from concurrent requests, written by
 * one multi-row INSERT per flush, which also wakes the forwarder. A report is durable, and may be
 * acknowledged, once its `append` resolves.
 *
 * It writes on a connection of its own, through node-postgres rather than Prisma: flushes run one at
 * a time, so one connection is all they use, and at 1,000 reports/s most flushes carry a few rows,
 * where Prisma's own work per statement was over half of the write's CPU in the API (a profile of
 * `npm run bench -- dlr-ack --cpu-prof`).
 */
export class DeliveryReportInbox {
  private readonly commits: GroupCommit<InboxReport>;
  private readonly pool: Pool;

  constructor(databaseUrl: string, options: GroupCommitOptions, logger: Logger) {
    this.pool = new Pool({ connectionString: databaseUrl, max: 1, application_name: INBOX_APPLICATION_NAME });
    // An idle connection that drops (PostgreSQL restarted) is replaced on the next flush; unheard,
    // the pool's error event would end the process.
    this.pool.on('error', (error) => logger.warn({ err: error }, 'delivery report inbox lost its idle database connection'));
    this.commits = new GroupCommit((rows) => insertReports(this.pool, rows), options);
  }

  append(reports: readonly InboxReport[]): Promise<void> {
    return this.commits.append(reports);
  }

  /** Writes what is queued, then closes the connection. */
  async close(): Promise<void> {
    await this.commits.close();
    await this.pool.end();
  }
}

/**
 * One statement, so one round trip: the rows, in their order, and the notification on commit. The
 * rows travel as one JSON parameter (one JSON.stringify for the batch instead of six array literals
 * built element by element), and the statement is prepared once per connection.
 */
const INSERT_REPORTS = {
  name: 'smsrouter-inbox-insert',
  text: `
    WITH inserted AS (
      INSERT INTO "DeliveryReport" ("providerId", "messageId", "providerMessageId", "status", "payload", "orderKey")
      SELECT provider, message, part, status, payload, key
      FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (provider text, message text, part text, status text, payload jsonb, key text))
        WITH ORDINALITY AS row(provider, message, part, status, payload, key, position)
      ORDER BY position
      RETURNING 1)
    SELECT pg_notify('${INBOX_CHANNEL}', count(*)::text) FROM inserted`,
} as const;

async function insertReports(pool: Pool, rows: readonly InboxReport[]): Promise<void> {
  const records = rows.map(({ providerId, report }) => ({
    provider: providerId,
    message: report.messageId ?? null,
    part: report.providerMessageId,
    status: report.status,
    payload: report,
    key: deliveryReportOrderKey(providerId, report.messageId, report.providerMessageId),
  }));
  await pool.query({ ...INSERT_REPORTS, values: [JSON.stringify(records)] });
}
