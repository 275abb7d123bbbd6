// The message workflow's shape with no router code in it: the Temporal ceiling the router is
// measured against. Same commands in the same order as a delivered single-part message: a local
// activity (accepted + routed), an activity on another task queue (the submit), a local activity
// (submitted), a wait for a signal (the delivery report), a local activity (the final status).
import { condition, defineSignal, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
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

export async function bareMessageWorkflow(id: string): Promise<string> {
  let report: string | undefined;
  setHandler(bareReportSignal, (status) => {
    report = status;
  });
  await recordBareStatus(id, 'routed');
  await submitBare(id);
  await recordBareStatus(id, 'submitted');
  await condition(() => report !== undefined);
  const status = report ?? 'unknown';
  await recordBareFinalStatus(id, status);
  return status;
}
