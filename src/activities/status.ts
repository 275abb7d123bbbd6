import { ApplicationFailure } from '@temporalio/activity';
import { executeStatement, queryRows, type Database } from '../db/client';
import { DUPLICATE_MESSAGE_FAILURE, type StatusChange } from '../domain/message';
import { isFinalStatus, type MessageStatus } from '../domain/status';
import { Prisma } from '../generated/prisma/client';

type FirstWriteRow = {
  /** The status of a row that belongs to another run: the duplicate. */
  readonly duplicate: MessageStatus | null;
  readonly created: boolean;
};

/** What a write did beyond recording the changes. */
export interface StatusWriteResult {
  /** The write created the Message row with the submit attempt it was asked to claim. */
  readonly claimed: boolean;
}

/**
 * Writes status changes of one message: a MessageEvent row each, and the Message row's current
 * state from the last of them. One SQL statement, so the write is atomic and costs one round trip
 * (it sits on every message's path several times). Writing the same changes again (a retried local
 * activity) changes nothing: events are keyed by (message, sequence), and the Message row only takes
 * a change newer than the one it shows, so a retried write committing after a later one leaves it.
 *
 * The first write creates the Message row with the workflow's run id; written again by the same run
 * (a submit recorded it, then failed), it moves the row on as any later write does. When the row
 * already exists for another run (the same id started again after Temporal forgot the first
 * workflow), nothing is written and a non-retryable `DuplicateMessage` failure tells the workflow to
 * send nothing. `claimAttempt` marks a submit attempt on a row this write creates (see
 * claimSubmitAttempt), sparing the submit a round trip before its request.
 */
export async function writeStatusChanges(db: Database, changes: readonly StatusChange[], claimAttempt = 0): Promise<StatusWriteResult> {
  const last = changes.at(-1);
  if (!last) return { claimed: false };
  const first = changes.find((change) => change.message);
  const submittedAt = changes.findLast((change) => change.status === 'submitted')?.occurredAt;
  const completedAt = isFinalStatus(last.status) ? last.occurredAt : undefined;
  const errorReason = last.errorCode ? (last.reason ?? null) : null;

  if (!first?.message) {
    await executeStatement(
      db,
      Prisma.sql`
      WITH "message" AS (
        UPDATE "Message" SET "status" = ${last.status}::"MessageStatus", "sequence" = ${last.sequence},
          "providerId" = COALESCE(${last.providerId ?? null}, "providerId"),
          "providerMessageId" = COALESCE(${last.providerMessageId ?? null}, "providerMessageId"),
          "errorCode" = ${last.errorCode ?? null}, "errorReason" = ${errorReason}, "updatedAt" = now(),
          "submittedAt" = COALESCE(${timestamp(submittedAt)}, "submittedAt"),
          "completedAt" = COALESCE(${timestamp(completedAt)}, "completedAt")
        WHERE "id" = ${last.messageId} AND "sequence" < ${last.sequence})
      INSERT INTO "MessageEvent" ("messageId", "sequence", "status", "providerId", "providerMessageId", "country",
        "errorCode", "reason", "occurredAt")
      VALUES ${Prisma.join(changes.map(eventValues))}
      ON CONFLICT ("messageId", "sequence") DO NOTHING`,
    );
    return { claimed: false };
  }

  const created = first.message;
  const runId = first.runId ?? null;
  // The snapshot a statement reads is taken before it writes: "existing" is the row as it was.
  const [row] = await queryRows<FirstWriteRow>(
    db,
    Prisma.sql`
    WITH "existing" AS (SELECT "runId", "status" FROM "Message" WHERE "id" = ${created.messageId}),
    "message" AS (
      INSERT INTO "Message" ("id", "accountId", "clientRef", "to", "from", "body", "encoding", "segments",
        "country", "status", "providerId", "providerMessageId", "errorCode", "errorReason", "callbackUrl", "sendAt",
        "createdAt", "updatedAt", "submittedAt", "completedAt", "sequence", "runId", "submitAttempt")
      VALUES (${created.messageId}, ${created.accountId}, ${created.clientRef ?? null}, ${created.to}, ${created.from},
        ${created.body}, ${created.encoding}, ${created.segments}, ${created.country ?? null}, ${last.status}::"MessageStatus",
        ${last.providerId ?? null}, ${last.providerMessageId ?? null}, ${last.errorCode ?? null}, ${errorReason},
        ${created.callbackUrl ?? null}, ${timestamp(created.sendAt)}, ${timestamp(created.acceptedAt)}, now(),
        ${timestamp(submittedAt)}, ${timestamp(completedAt)}, ${last.sequence}, ${runId}, ${claimAttempt})
      ON CONFLICT ("id") DO UPDATE SET "status" = EXCLUDED."status", "sequence" = EXCLUDED."sequence",
        "providerId" = COALESCE(EXCLUDED."providerId", "Message"."providerId"),
        "providerMessageId" = COALESCE(EXCLUDED."providerMessageId", "Message"."providerMessageId"),
        "errorCode" = EXCLUDED."errorCode", "errorReason" = EXCLUDED."errorReason", "updatedAt" = now(),
        "submittedAt" = COALESCE(EXCLUDED."submittedAt", "Message"."submittedAt"),
        "completedAt" = COALESCE(EXCLUDED."completedAt", "Message"."completedAt")
      WHERE "Message"."runId" IS NOT DISTINCT FROM EXCLUDED."runId" AND "Message"."sequence" < EXCLUDED."sequence"
      RETURNING (xmax = 0) AS "created"),
    "events" AS (
      INSERT INTO "MessageEvent" ("messageId", "sequence", "status", "providerId", "providerMessageId", "country",
        "errorCode", "reason", "occurredAt")
      SELECT * FROM (VALUES ${Prisma.join(changes.map(typedEventValues))}) AS "event"
      WHERE NOT EXISTS (SELECT 1 FROM "existing" WHERE "runId" IS DISTINCT FROM ${runId}::text)
      ON CONFLICT ("messageId", "sequence") DO NOTHING)
    SELECT (SELECT "status" FROM "existing" WHERE "runId" IS DISTINCT FROM ${runId}::text) AS "duplicate",
      COALESCE((SELECT "created" FROM "message"), false) AS "created"`,
  );
  if (row?.duplicate) {
    throw ApplicationFailure.create({
      type: DUPLICATE_MESSAGE_FAILURE,
      message: `message ${created.messageId} already exists (${row.duplicate}) for another workflow run; nothing sent`,
      nonRetryable: true,
      details: [row.duplicate],
    });
  }
  return { claimed: claimAttempt > 0 && row?.created === true };
}

function eventValues(change: StatusChange): Prisma.Sql {
  return Prisma.sql`(${change.messageId}, ${change.sequence}, ${change.status}::"MessageStatus", ${change.providerId ?? null},
    ${change.providerMessageId ?? null}, ${change.country ?? null}, ${change.errorCode ?? null}, ${change.reason ?? null},
    ${timestamp(change.occurredAt)})`;
}

/** As eventValues, typed: a VALUES list under SELECT has no target columns to take its types from. */
function typedEventValues(change: StatusChange): Prisma.Sql {
  return Prisma.sql`(${change.messageId}::text, ${change.sequence}::int, ${change.status}::"MessageStatus",
    ${change.providerId ?? null}::text, ${change.providerMessageId ?? null}::text, ${change.country ?? null}::text,
    ${change.errorCode ?? null}::text, ${change.reason ?? null}::text, ${timestamp(change.occurredAt)})`;
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
