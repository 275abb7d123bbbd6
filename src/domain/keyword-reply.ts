/**
 * The confirmation an account may send back when a handset opts out or in (PROVIDERS.md §5d: one
 * confirmation text, no marketing, within 5 minutes). Pure: the inbound activity builds it, the
 * message workflow carries it, the routing activity lets it through.
 */

/** What marks a message as the reply to an inbound keyword; set only by the inbound activity. */
export interface KeywordReply {
  /** The inbound message it answers: one reply per inbound message. */
  readonly inboundId: string;
  /** Sent back through the provider the keyword came in on, whatever the route table says. */
  readonly providerId: string;
}

export const DEFAULT_OPT_OUT_REPLY = 'You have been unsubscribed and will get no more messages. Reply START to resubscribe.';
export const DEFAULT_OPT_IN_REPLY = 'You have been resubscribed. Reply STOP to unsubscribe.';

/** The FCC presumes a confirmation lawful within 5 minutes of the opt-out: later, it is not sent. */
export const KEYWORD_REPLY_VALIDITY_SECONDS = 300;

/** Longest configurable reply: one GSM-7 SMS part, so a confirmation never costs more than one. */
export const MAX_KEYWORD_REPLY_CHARS = 160;
