import { keywordReplyMessageId } from '../client/request';
import type { Database } from '../db/client';
import type { KeywordReply } from '../domain/keyword-reply';

/**
 * True when the message is the reply to its recipient's own opt-out: the one message that may reach
 * a number that just opted out. Its id is derived from the inbound message, so there is at most one
 * per opt-out, and the inbound message must be an opt-out from that number to that account through
 * that provider; any other message claiming to be a reply is held to the suppression list.
 */
export async function confirmsOwnOptOut(
  db: Database,
  reply: KeywordReply,
  message: { readonly messageId: string; readonly accountId: string; readonly to: string },
): Promise<boolean> {
  if (message.messageId !== keywordReplyMessageId(reply.inboundId)) return false;
  const inbound = await db.inboundMessage.findUnique({
    where: { id: reply.inboundId },
    select: { accountId: true, from: true, keyword: true, providerId: true },
  });
  return inbound !== null && inbound.accountId === message.accountId && inbound.from === message.to && inbound.keyword === 'opt_out' && inbound.providerId === reply.providerId;
}
