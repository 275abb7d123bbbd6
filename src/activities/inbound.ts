import { ApplicationFailure, log } from '@temporalio/activity';
import { InvalidMessageError } from '../client/errors';
import { DEFAULT_MESSAGE_POLICY, DEFAULT_SEND_LIMITS, prepareKeywordReply } from '../client/request';
import type { Database } from '../db/client';
import type { InboundDelivery, InboundOutcome } from '../domain/inbound';
import { DEFAULT_OPT_IN_REPLY, DEFAULT_OPT_OUT_REPLY } from '../domain/keyword-reply';
import type { MessagePolicy, MessageRequest } from '../domain/message';
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
export function createInboundActivities(db: Database, suppressions: SuppressionList, policy: MessagePolicy = DEFAULT_MESSAGE_POLICY) {
  return {
    /**
     * Classifies the text against the account's keywords and applies an opt-out or opt-in to its
     * suppression list, before anyone is told: the next send to that number is already blocked.
     * Idempotent, so a retry applies the same change again.
     */
    async settleInbound(inboundId: string): Promise<InboundOutcome> {
      const message = await db.inboundMessage.findUnique({
        where: { id: inboundId },
        include: { account: { select: { inboundWebhookUrl: true, keywordOverrides: true, keywordReplies: true, optOutReplyText: true, optInReplyText: true } } },
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
      const reply = account.keywordReplies ? keywordReplyTo(message, keyword, account) : undefined;
      const settled = { accountId, keyword, ...(reply ? { reply } : {}) };
      if (!account.inboundWebhookUrl) return settled;
      return {
        ...settled,
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

  /** The confirmation of an opt-out or opt-in, back to its sender from the number it went to; none for other texts. */
  function keywordReplyTo(
    message: { readonly id: string; readonly providerId: string; readonly from: string; readonly to: string; readonly accountId: string | null },
    keyword: KeywordKind | null,
    texts: { readonly optOutReplyText: string | null; readonly optInReplyText: string | null },
  ): MessageRequest | undefined {
    if (!message.accountId || (keyword !== 'opt_out' && keyword !== 'opt_in')) return undefined;
    const body = keyword === 'opt_out' ? (texts.optOutReplyText ?? DEFAULT_OPT_OUT_REPLY) : (texts.optInReplyText ?? DEFAULT_OPT_IN_REPLY);
    const context = { accountId: message.accountId, limits: DEFAULT_SEND_LIMITS, policy, now: new Date() };
    try {
      return prepareKeywordReply({ inboundId: message.id, providerId: message.providerId, to: message.from, from: message.to, body }, context);
    } catch (error) {
      // A sender that is not a phone number we may send to (a short code texting us) cannot be answered.
      if (error instanceof InvalidMessageError) {
        log.warn('keyword reply not sent: its recipient cannot be sent to', { inboundId: message.id, reason: error.message });
        return undefined;
      }
      throw error;
    }
  }
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
