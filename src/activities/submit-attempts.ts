import { executeStatement, type Database } from '../db/client';
import type { SubmitAttemptRef } from '../domain/dispatch';
import { Prisma } from '../generated/prisma/client';

/**
 * Claims a message's submit attempt on its Message row: true for whoever claims it first. The
 * dispatch activity claims it just before its request can leave, and sends only if it won; the
 * workflow claims it after the attempt timed out, and wins only if the request never left, which
 * also stops a late activity from sending it then. One indexed UPDATE of a row already hot, no new
 * rows to clean up; attempts are counted per message, so each new one is above every earlier one.
 */
export async function claimSubmitAttempt(db: Database, ref: SubmitAttemptRef): Promise<boolean> {
  const claimed = await executeStatement(
    db,
    Prisma.sql`UPDATE "Message" SET "submitAttempt" = ${ref.attempt} WHERE "id" = ${ref.messageId} AND "submitAttempt" < ${ref.attempt}`,
  );
  return claimed === 1;
}

export function createSubmitAttemptActivities(db: Database) {
  return {
    /**
     * After a submit attempt timed out: true when its request cannot have left the worker (and now
     * never will), so the attempt may be retried; false when it may have reached the provider.
     */
    async fenceSubmitAttempt(ref: SubmitAttemptRef): Promise<boolean> {
      return claimSubmitAttempt(db, ref);
    },
  };
}
