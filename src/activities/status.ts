import type { Database } from '../db/client';
import type { StatusChange } from '../domain/message';
import { isFinalStatus } from '../domain/status';

/**
 * One MessageEvent row per change and the current state on Message, in one transaction.
 * A retried write (same message and sequence) changes nothing the second time.
 */
export function createStatusActivities(db: Database) {
  return {
    async recordStatus(change: StatusChange): Promise<void> {
      const occurredAt = new Date(change.occurredAt);
      const message = change.message;
      const messageWrite = message
        ? db.message.upsert({
            where: { id: message.messageId },
            update: {},
            create: {
              id: message.messageId,
              accountId: message.accountId,
              clientRef: message.clientRef,
              to: message.to,
              from: message.from,
              body: message.body,
              encoding: message.encoding,
              segments: message.segments,
              country: message.country,
              status: change.status,
              callbackUrl: message.callbackUrl,
              createdAt: new Date(message.acceptedAt),
            },
          })
        : db.message.update({
            where: { id: change.messageId },
            data: {
              status: change.status,
              providerId: change.providerId,
              providerMessageId: change.providerMessageId,
              errorCode: change.errorCode ?? null,
              errorReason: change.errorCode ? (change.reason ?? null) : null,
              submittedAt: change.status === 'submitted' ? occurredAt : undefined,
              completedAt: isFinalStatus(change.status) ? occurredAt : undefined,
            },
          });
      const eventWrite = db.messageEvent.createMany({
        data: [
          {
            messageId: change.messageId,
            sequence: change.sequence,
            status: change.status,
            providerId: change.providerId,
            providerMessageId: change.providerMessageId,
            country: change.country,
            errorCode: change.errorCode,
            reason: change.reason,
            occurredAt,
          },
        ],
        skipDuplicates: true,
      });
      await db.$transaction([messageWrite, eventWrite]);
    },
  };
}
