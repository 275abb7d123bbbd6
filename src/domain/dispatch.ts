import type { OutboundSms } from '../providers/types';
import type { StatusChange } from './message';

/** Each provider's submits run on their own task queue, rate-limited by the Temporal server. */
export function providerTaskQueue(providerId: string): string {
  return `provider.${providerId}`;
}

export const ROUTER_TASK_QUEUE = 'router';

/** Client webhooks run on their own queue so slow clients cannot starve the router's activities. */
export const CALLBACKS_TASK_QUEUE = 'callbacks';

/** ApplicationFailure types thrown by submitToProvider; the workflow branches on them. */
export const SUBMIT_FAILURE = {
  transient: 'TransientSubmitFailure',
  permanent: 'PermanentSubmitFailure',
  ambiguous: 'AmbiguousSubmit',
} as const;

/**
 * Room in the submit activity's start-to-close beyond the HTTP request itself: the provider look-up,
 * the about-to-send mark and reporting the result. The activity gives up on the request this long
 * before the start-to-close, so a timeout seen by the workflow means the worker is gone, not slow.
 */
export const SUBMIT_ACTIVITY_SLACK_MS = 3_000;

export function submitStartToCloseMs(submitTimeoutSeconds: number): number {
  return submitTimeoutSeconds * 1000 + SUBMIT_ACTIVITY_SLACK_MS;
}

/** The workflow fills in the DLR URL's absence: the activity knows the public base URL. */
export interface SubmitInput {
  readonly providerId: string;
  readonly sms: Omit<OutboundSms, 'deliveryReportUrl'>;
  /**
   * The message's submit attempt, counted over all its providers. The activity marks it on the
   * Message row before the request can leave; absent in submits scheduled before the mark existed.
   */
  readonly attempt?: number;
  /**
   * Where the message's `submitted` change goes in its history. Given, the activity records that
   * change itself once the provider accepted, sparing the workflow a local activity (a history
   * event and a workflow task's worth of waiting) per message.
   */
  readonly submitted?: Pick<StatusChange, 'sequence' | 'country'>;
  /**
   * The message's changes no write has recorded yet (accepted and routed, when its route came with
   * it: MessageRequest.route). Before the request can leave, the activity writes them, creating the
   * Message row, and refuses, unsent, a recipient on the account's suppression list.
   */
  readonly unrecorded?: readonly StatusChange[];
}

/** Marks an attempt on a message (see SubmitInput.attempt); the workflow's check for a timed-out one. */
export interface SubmitAttemptRef {
  readonly messageId: string;
  readonly attempt: number;
}

export interface SubmitResult {
  readonly providerMessageIds: readonly string[];
  /** The `submitted` change as recorded (SubmitInput.submitted); absent when the workflow must record it. */
  readonly submitted?: StatusChange;
}
