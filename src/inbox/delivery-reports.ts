import { createHash } from 'node:crypto';
import type { Database } from '../db/client';
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

/**
 * The delivery report inbox's write side: the webhook's reports from concurrent requests, written by
 * one multi-row INSERT per flush, which also wakes the forwarder. A report is durable, and may be
 * acknowledged, once its `append` resolves.
 */
export class DeliveryReportInbox {
  private readonly commits: GroupCommit<InboxReport>;

  constructor(db: Database, options: GroupCommitOptions) {
    this.commits = new GroupCommit((rows) => insertReports(db, rows), options);
  }

  append(reports: readonly InboxReport[]): Promise<void> {
    return this.commits.append(reports);
  }

  close(): Promise<void> {
    return this.commits.close();
  }
}

/** One statement, so one round trip: the rows, in their order, and the notification on commit. */
async function insertReports(db: Database, rows: readonly InboxReport[]): Promise<void> {
  const providerIds = rows.map((row) => row.providerId);
  const messageIds = rows.map((row) => row.report.messageId ?? null);
  const providerMessageIds = rows.map((row) => row.report.providerMessageId);
  const statuses = rows.map((row) => row.report.status);
  const payloads = rows.map((row) => JSON.stringify(row.report));
  const orderKeys = rows.map((row) => deliveryReportOrderKey(row.providerId, row.report.messageId, row.report.providerMessageId));
  await db.$executeRaw`
    WITH inserted AS (
      INSERT INTO "DeliveryReport" ("providerId", "messageId", "providerMessageId", "status", "payload", "orderKey")
      SELECT provider, message, part, status, payload::jsonb, key
      FROM unnest(${providerIds}::text[], ${messageIds}::text[], ${providerMessageIds}::text[], ${statuses}::text[], ${payloads}::text[], ${orderKeys}::text[])
        WITH ORDINALITY AS row(provider, message, part, status, payload, key, position)
      ORDER BY position
      RETURNING 1)
    SELECT pg_notify(${INBOX_CHANNEL}, count(*)::text) FROM inserted`;
}
