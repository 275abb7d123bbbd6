import type { DeliveryGuarantee } from '../generated/prisma/enums';
import type { DeliveryReport } from '../providers/types';
import type { Encoding } from './encoding';
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
}

/** Deployment settings a message carries so its workflow never reads configuration itself. */
export interface MessagePolicy {
  /** Resends via the next route after a final `undelivered` that another route may fix. */
  readonly maxResends: number;
  /** How long a status callback to the client is retried before it is given up. */
  readonly callbackRetrySeconds: number;
}

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
}

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
