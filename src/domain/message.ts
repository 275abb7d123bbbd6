import type { DeliveryGuarantee } from '../generated/prisma/enums';
import type { DeliveryReport } from '../providers/types';
import type { Encoding } from './encoding';
import type { KeywordReply } from './keyword-reply';
import type { MessageStatus } from './status';

/** A message as the API accepted it: the message workflow's input. */
export interface MessageRequest {
  readonly messageId: string;
  readonly accountId: string;
  readonly clientRef?: string;
  /** E.164 with '+'. */
  readonly to: string;
  readonly country?: string;
  readonly from: string;
  readonly body: string;
  readonly encoding: Encoding;
  readonly segments: number;
  readonly callbackUrl?: string;
  /** ISO 8601. */
  readonly acceptedAt: string;
  /** ISO 8601; the workflow sleeps until then before routing. */
  readonly sendAt?: string;
  /** ISO 8601; a message not submitted by then ends `expired`. */
  readonly validUntil?: string;
  readonly policy: MessagePolicy;
  /** Only on the confirmation of an inbound opt-out or opt-in: pins the provider, and may reach the number that just opted out. */
  readonly keywordReply?: KeywordReply;
  /**
   * The first route, chosen when the message was accepted by a starter that holds the route table
   * (the REST API, campaigns). The workflow then submits at once, without a routing step of its own;
   * the submit records the message and checks the suppression list first. Unused after a scheduled
   * wait (the table may have changed) and for every later attempt.
   */
  readonly route?: RouteCandidate;
}

/** Deployment settings a message carries so its workflow never reads configuration itself. */
export interface MessagePolicy {
  /** Resends via the next route after a final `undelivered` that another route may fix. */
  readonly maxResends: number;
  /** How long a status callback to the client is retried before it is given up. */
  readonly callbackRetrySeconds: number;
  /** How long the callbacks workflow waits after a final status before it ends. */
  readonly callbackIdleSeconds: number;
  readonly submit: SubmitPolicy;
}

/** How one provider's submits are timed and retried (SUBMIT_* in src/config.ts). */
export interface SubmitPolicy {
  /** One submit request; past it the outcome is ambiguous. The activity's start-to-close follows it. */
  readonly timeoutSeconds: number;
  /** Longest a submit waits in its provider's queue (nobody polling it) before the next candidate is tried. */
  readonly queueTimeoutSeconds: number;
  /** Tries on one provider (transient failures) before the message moves to the next candidate. */
  readonly attemptsPerProvider: number;
  /** First backoff between tries, doubling up to the maximum; a provider's Retry-After replaces it. */
  readonly retryInitialSeconds: number;
  readonly retryMaxSeconds: number;
  /** Resends after an ambiguous submit on an at-least-once provider, before the message ends unknown. */
  readonly maxAmbiguousResends: number;
}

/** The submit figures of messages accepted before they were part of the policy. */
export const DEFAULT_SUBMIT_POLICY: SubmitPolicy = {
  timeoutSeconds: 10,
  queueTimeoutSeconds: 600,
  attemptsPerProvider: 5,
  retryInitialSeconds: 1,
  retryMaxSeconds: 60,
  maxAmbiguousResends: 2,
};

/** The ApplicationFailure type of a status write that found the message row owned by another workflow run. */
export const DUPLICATE_MESSAGE_FAILURE = 'DuplicateMessage';

/** What the client's webhook receives for each status change of its message. */
export interface ClientNotification {
  readonly id: string;
  readonly clientRef?: string;
  /** Position in the message's history: callbacks arrive in this order. */
  readonly sequence: number;
  readonly status: MessageStatus;
  readonly providerId?: string;
  readonly errorCode?: string;
  readonly reason?: string;
  /** ISO 8601. */
  readonly occurredAt: string;
}

/** The client-callback workflow's input: where to post, and for how long to retry each post. */
export interface ClientCallbackTarget {
  readonly messageId: string;
  /** Whose secret signs the callbacks (looked up by the activity: the secret stays out of history); absent in workflows started before it was passed. */
  readonly accountId?: string;
  readonly callbackUrl: string;
  readonly retrySeconds: number;
  /** How long to wait after a final status before ending; DEFAULT_CALLBACK_IDLE_SECONDS when absent. */
  readonly idleSeconds?: number;
}

export const DEFAULT_CALLBACK_IDLE_SECONDS = 60;

/** Result of the `cancel` update. */
export interface CancelResult {
  readonly cancelled: boolean;
  readonly status: MessageStatus;
}

/** One provider the message may go to, with the settings its attempt needs. */
export interface RouteCandidate {
  readonly providerId: string;
  readonly dlrTimeoutSeconds: number;
  readonly deliveryGuarantee: DeliveryGuarantee;
}

/** Chooses a message's first route when it is accepted, from a route table the caller holds (MessageRequest.route). */
export type RouteChooser = (request: MessageRequest) => Promise<RouteCandidate | undefined>;

/** A status change as the workflow records it. */
export interface StatusChange {
  readonly messageId: string;
  /** Position in the message's history; the same change written twice is stored once. */
  readonly sequence: number;
  readonly status: MessageStatus;
  /** ISO 8601. */
  readonly occurredAt: string;
  readonly providerId?: string;
  readonly providerMessageId?: string;
  readonly errorCode?: string;
  readonly reason?: string;
  /** Destination country, repeated on every event so statistics need no join. */
  readonly country?: string;
  /** Present on the first change only: creates the message row. */
  readonly message?: MessageRequest;
  /** With `message`: the workflow's first run id, stored on the row so a second workflow for the id is known. */
  readonly runId?: string;
}

/** What the DLR webhook signals into a message workflow. */
export interface DeliveryReportSignal {
  readonly providerId: string;
  readonly report: DeliveryReport;
}

export interface MessageOutcome {
  readonly status: MessageStatus;
  readonly providerId?: string;
  readonly providerMessageId?: string;
  readonly errorCode?: string;
  readonly reason?: string;
}
