import { ApplicationFailure } from '@temporalio/activity';
import type { Database } from '../db/client';
import type { InboundDelivery, InboundOutcome } from '../domain/inbound';
import { classifyKeyword, type KeywordKind } from '../domain/opt-out';
import { accountKeywordTable } from '../inbound/keywords';
import { ClientWebhook, type ClientWebhookDependencies } from './client-webhook';
import type { SuppressionList } from '../inbound/suppression';

const KEYWORD_KINDS: ReadonlyMap<string, KeywordKind> = new Map([
  ['opt_out', 'opt_out'],
  ['opt_in', 'opt_in'],
  ['help', 'help'],
]);

/** The router queue's part of an inbound message: its account, its keyword, its suppression change. */
export function createInboundActivities(db: Database, suppressions: SuppressionList) {
  return {
    /**
     * Classifies the text against the account's keywords and applies an opt-out or opt-in to its
     * suppression list, before anyone is told: the next send to that number is already blocked.
     * Idempotent, so a retry applies the same change again.
     */
    async settleInbound(inboundId: string): Promise<InboundOutcome> {
      const message = await db.inboundMessage.findUnique({
        where: { id: inboundId },
        include: { account: { select: { inboundWebhookUrl: true, keywordOverrides: true } } },
      });
      if (!message) throw ApplicationFailure.nonRetryable(`inbound message ${inboundId} is not stored`, 'InboundMessageMissing');
      const { account, accountId } = message;
      if (!account || !accountId) return { accountId: null, keyword: null };
      // Set at arrival when the provider classified it (Twilio's OptOutType): its verdict stands.
      const stored = message.keyword === null ? undefined : KEYWORD_KINDS.get(message.keyword);
      const classified = classifyKeyword(message.text, accountKeywordTable(account.keywordOverrides));
      const keyword = stored ?? (classified.kind === 'none' ? null : classified.kind);
      if (keyword === 'opt_out') await suppressions.add(accountId, message.from, 'opt_out', inboundId);
      if (keyword === 'opt_in') await suppressions.remove(accountId, message.from);
      if (keyword !== message.keyword) await db.inboundMessage.update({ where: { id: inboundId }, data: { keyword } });
      if (!account.inboundWebhookUrl) return { accountId, keyword };
      return {
        accountId,
        keyword,
        delivery: {
          webhookUrl: account.inboundWebhookUrl,
          accountId,
          notification: {
            id: message.id,
            provider: message.providerId,
            from: message.from,
            to: message.to,
            text: message.text,
            encoding: message.encoding,
            parts: message.parts,
            keyword,
            receivedAt: message.receivedAt.toISOString(),
          },
        },
      };
    },

  };
}

/** The callbacks queue's part: the POST to the account's webhook, which may be slow or down. */
export function createInboundDeliveryActivities(dependencies: ClientWebhookDependencies) {
  const { db } = dependencies;
  const webhook = new ClientWebhook(dependencies);
  return {
    /** POSTs one signed inbound message; anything but a 2xx is retried by the caller's policy. */
    async deliverInbound(delivery: InboundDelivery): Promise<void> {
      const { id: inboundId } = delivery.notification;
      await webhook.post(
        {
          url: delivery.webhookUrl,
          accountId: delivery.accountId,
          what: 'inbound webhook',
          failureType: 'InboundWebhookFailed',
          refusedType: 'InboundWebhookRefused',
          logContext: { inboundId },
        },
        delivery.notification,
      );
      await db.inboundMessage.update({ where: { id: delivery.notification.id }, data: { deliveredAt: new Date() } });
    },
  };
}

export type InboundActivities = ReturnType<typeof createInboundActivities>;
export type InboundDeliveryActivities = ReturnType<typeof createInboundDeliveryActivities>;
