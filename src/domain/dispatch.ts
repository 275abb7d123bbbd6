import type { OutboundSms } from '../providers/types';

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

/** The workflow fills in the DLR URL's absence: the activity knows the public base URL. */
export interface SubmitInput {
  readonly providerId: string;
  readonly sms: Omit<OutboundSms, 'deliveryReportUrl'>;
}

export interface SubmitResult {
  readonly providerMessageIds: readonly string[];
}
