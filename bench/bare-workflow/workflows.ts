// The bare Temporal shape of one message, without the router's work: four status records (local
// activities), one submit (an activity on another queue in the router; here the same one) and the
// wait for its delivery report (a signal, sent with the start).
import { condition, defineSignal, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './activities';

export const reportSignal = defineSignal('report');

const { record } = proxyLocalActivities<typeof activities>({ startToCloseTimeout: '10 seconds' });
const { submit } = proxyActivities<typeof activities>({ startToCloseTimeout: '10 seconds' });

export async function bareMessage(): Promise<void> {
  let reported = false;
  setHandler(reportSignal, () => {
    reported = true;
  });
  await record();
  await record();
  await submit();
  await record();
  await condition(() => reported);
  await record();
}
