// The message workflow's shape with no router code in it: the Temporal ceiling the router is
// measured against. Same commands in the same order as a delivered single-part message: a local
// activity (accepted + routed), an activity on another task queue (the submit), a local activity
// (submitted), a wait for a signal (the delivery report), a local activity (the final status).
// With `routerFeatures`, it also uses what the router asks of Temporal beyond that shape: a memo and
// search attributes at the start (set by the client), a timer bounding the wait for the report,
// and the final status upserted as search attributes.
import { condition, defineSignal, proxyActivities, proxyLocalActivities, setHandler, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes';
import type { BareShapeActivities } from './activities';

export const BARE_ROUTER_TASK_QUEUE = 'bare-router';
export const BARE_DISPATCH_TASK_QUEUE = 'bare-dispatch';

export const bareReportSignal = defineSignal<[string]>('report');

const { recordBareStatus, recordBareFinalStatus } = proxyLocalActivities<BareShapeActivities>({ startToCloseTimeout: '10 seconds' });
const { submitBare } = proxyActivities<BareShapeActivities>({
  taskQueue: BARE_DISPATCH_TASK_QUEUE,
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
});

/** The provider id the features variant upserts, as the router upserts the one that delivered. */
export const BARE_PROVIDER = 'bare';

/** What the router asks of Temporal beyond the shape; its timer is set to `reportDeadlineSeconds`. */
export interface RouterFeatures {
  readonly reportDeadlineSeconds: number;
  /** `always`: a timer even when the report came first, where the router starts none. */
  readonly timer?: 'when waiting' | 'always';
}

export async function bareMessageWorkflow(id: string, routerFeatures?: RouterFeatures): Promise<string> {
  let report: string | undefined;
  setHandler(bareReportSignal, (status) => {
    report = status;
  });
  await recordBareStatus(id, 'routed');
  await submitBare(id);
  await recordBareStatus(id, 'submitted');
  // As the router's: only when the report has not come yet, and left running (a message that ends
  // takes its timer along unrecorded).
  if (routerFeatures && (report === undefined || routerFeatures.timer === 'always')) void sleep(routerFeatures.reportDeadlineSeconds * 1000);
  await condition(() => report !== undefined);
  const status = report ?? 'unknown';
  await recordBareFinalStatus(id, status);
  if (routerFeatures) {
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.status, value: status },
      { key: SEARCH_ATTRIBUTES.provider, value: BARE_PROVIDER },
    ]);
  }
  return status;
}
