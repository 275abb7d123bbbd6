import type { Database } from '../db/client';
import type { StatusChange } from '../domain/message';
import { isFinalStatus } from '../domain/status';
import { Prisma } from '../generated/prisma/client';

/**
 * Writes status changes of one message: a MessageEvent row each, and the Message row's current
 * state from the last of them. One SQL statement, so the write is atomic and costs one round trip
 * (it sits on every message's path several times). Writing the same changes again (a retried local
 * activity) changes nothing: events are keyed by (message, sequence).
 */
export async function writeStatusChanges(db: Database, changes: readonly StatusChange[]): Promise<void> {
  const last = changes.at(-1);
  if (!last) return;
  const created = changes.find((change) => change.message)?.message;
  const submittedAt = changes.findLast((change) => change.status === 'submitted')?.occurredAt;
  const completedAt = isFinalStatus(last.status) ? last.occurredAt : undefined;
  const errorReason = last.errorCode ? (last.reason ?? null) : null;

  const messageWrite = created
    ? Prisma.sql`INSERT INTO "Message" ("id", "accountId", "clientRef", "to", "from", "body", "encoding", "segments",
          "country", "status", "providerId", "providerMessageId", "errorCode", "errorReason", "callbackUrl", "sendAt",
          "createdAt", "updatedAt", "submittedAt", "completedAt")
        VALUES (${created.messageId}, ${created.accountId}, ${created.clientRef ?? null}, ${created.to}, ${created.from},
          ${created.body}, ${created.encoding}, ${created.segments}, ${created.country ?? null}, ${last.status}::"MessageStatus",
          ${last.providerId ?? null}, ${last.providerMessageId ?? null}, ${last.errorCode ?? null}, ${errorReason},
          ${created.callbackUrl ?? null}, ${timestamp(created.sendAt)}, ${timestamp(created.acceptedAt)}, now(),
          ${timestamp(submittedAt)}, ${timestamp(completedAt)})
        ON CONFLICT ("id") DO NOTHING`
    : Prisma.sql`UPDATE "Message" SET "status" = ${last.status}::"MessageStatus",
          "providerId" = COALESCE(${last.providerId ?? null}, "providerId"),
          "providerMessageId" = COALESCE(${last.providerMessageId ?? null}, "providerMessageId"),
          "errorCode" = ${last.errorCode ?? null}, "errorReason" = ${errorReason}, "updatedAt" = now(),
          "submittedAt" = COALESCE(${timestamp(submittedAt)}, "submittedAt"),
          "completedAt" = COALESCE(${timestamp(completedAt)}, "completedAt")
        WHERE "id" = ${last.messageId}`;

  const events = Prisma.join(
    changes.map(
      (change) => Prisma.sql`(${change.messageId}, ${change.sequence}, ${change.status}::"MessageStatus", ${change.providerId ?? null},
        ${change.providerMessageId ?? null}, ${change.country ?? null}, ${change.errorCode ?? null}, ${change.reason ?? null},
        ${timestamp(change.occurredAt)})`,
    ),
  );
  await db.$executeRaw`
    WITH "message" AS (${messageWrite})
    INSERT INTO "MessageEvent" ("messageId", "sequence", "status", "providerId", "providerMessageId", "country",
      "errorCode", "reason", "occurredAt")
    VALUES ${events}
    ON CONFLICT ("messageId", "sequence") DO NOTHING`;
}

/**
 * ISO 8601 (UTC, as the workflow writes it) as a TIMESTAMP(3) value, the way Prisma stores DateTime:
 * PostgreSQL drops the zone of a literal cast to a timestamp without time zone.
 */
function timestamp(iso: string | undefined): Prisma.Sql {
  return iso ? Prisma.sql`${new Date(iso).toISOString()}::timestamp(3)` : Prisma.sql`NULL::timestamp(3)`;
}

export function createStatusActivities(db: Database) {
  return {
    /** Records status changes of one message, in order. */
    async recordStatus(changes: readonly StatusChange[]): Promise<void> {
      await writeStatusChanges(db, changes);
    },
  };
}
