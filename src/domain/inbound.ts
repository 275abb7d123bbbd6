import type { MessageRequest } from './message';
import type { KeywordKind } from './opt-out';

/** What an account's inbound webhook receives, one POST per inbound message. */
export interface InboundNotification {
  /** "<provider>:<provider message id>": the same id on every retry, for the client to deduplicate. */
  readonly id: string;
  readonly provider: string;
  readonly from: string;
  readonly to: string;
  readonly text: string;
  readonly encoding: string;
  /** SMS parts it was joined from. */
  readonly parts: number;
  /** Set when the text was an opt-out, opt-in or help keyword; the opt-out is already applied. */
  readonly keyword: KeywordKind | null;
  readonly receivedAt: string;
}

/** One message on its way to the account's webhook, in order with the others of its number pair. */
export interface InboundDelivery {
  readonly webhookUrl: string;
  /** Whose callback secret signs the POST; the secret itself never enters workflow history. */
  readonly accountId: string;
  readonly notification: InboundNotification;
}

export interface InboundWorkflowInput {
  readonly inboundId: string;
}

/** A stored inbound message, announced to its number pair's workflow. */
export interface InboundArrival {
  readonly inboundId: string;
}

export interface InboundPairInput {
  /** How long delivery to the account's webhook is retried. */
  readonly webhookRetrySeconds: number;
}

/** What an inbound message's workflow found and did: its result, for its pair and the Temporal UI. */
export interface InboundOutcome {
  /** Null when nobody owns the number it was sent to. */
  readonly accountId: string | null;
  readonly keyword: KeywordKind | null;
  /** Unset when nobody owns the number, or its account has no inbound webhook. */
  readonly delivery?: InboundDelivery;
  /** The confirmation of an opt-out or opt-in, when the account sends them: a message of its own. */
  readonly reply?: MessageRequest;
}

/** One per (account, sender, our number): replies of one conversation reach the client in order. */
export function inboundPairWorkflowId(accountId: string, from: string, to: string): string {
  return `inbound-pair:${accountId}:${from}:${to}`;
}

/**
 * The text without a shared short code's keyword: GatewayAPI routes "FOO STOP" to the owner of
 * keyword FOO and leaves the keyword in the text (§5c). Only a whole first word matches, in any
 * case; a text that does not start with it is left as it is.
 */
export function withoutSharedKeyword(text: string, keyword: string | null): string {
  if (!keyword) return text;
  const match = /^\s*(\S+)(?:\s+|$)/u.exec(text);
  if (!match?.[1] || match[1].toUpperCase() !== keyword.toUpperCase()) return text;
  return text.slice(match[0].length);
}
