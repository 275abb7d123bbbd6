import { condition, continueAsNew, defineSignal, proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { InboundActivities, InboundDeliveryActivities } from '../activities/inbound';
import { CALLBACKS_TASK_QUEUE } from '../domain/dispatch';
import type { InboundDelivery, InboundOutcome, InboundPairInput, InboundWorkflowInput } from '../domain/inbound';

export const inboundDeliverySignal = defineSignal<[InboundDelivery]>('inboundDelivery');

const { settleInbound } = proxyLocalActivities<InboundActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

const { enqueueInboundDelivery } = proxyActivities<InboundActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * One inbound SMS (workflow id "<provider>:<provider message id>", so a provider's retry is the
 * same run): apply its opt-out or opt-in first, then queue it for the account's webhook behind the
 * earlier messages of its number pair. A message nobody's number received ends here, stored.
 */
export async function inboundMessageWorkflow(input: InboundWorkflowInput): Promise<InboundOutcome> {
  const settled = await settleInbound(input.inboundId);
  if (!settled.accountId || !settled.delivery) return { accountId: settled.accountId, keyword: settled.keyword, forwarded: false };
  await enqueueInboundDelivery({ accountId: settled.accountId, delivery: settled.delivery, webhookRetrySeconds: input.webhookRetrySeconds });
  return { accountId: settled.accountId, keyword: settled.keyword, forwarded: true };
}

/** A pair with nothing new for this long ends its workflow; the next message starts a new run. */
const IDLE = '1 minute';
/** Deliveries per run before continue-as-new keeps the history small. */
const DELIVERIES_PER_RUN = 200;

/**
 * Delivers the inbound messages of one (account, sender, our number) pair to the account's
 * webhook one at a time, oldest first, each retried with backoff for the configured time, so a
 * conversation reaches the client in order and a dead endpoint holds up only its own pair.
 */
export async function inboundPairWorkflow(input: InboundPairInput): Promise<void> {
  const pending: InboundDelivery[] = [...input.pending];
  // An activity retry may signal the same message twice.
  const queued = new Set(pending.map((delivery) => delivery.notification.id));
  setHandler(inboundDeliverySignal, (delivery) => {
    if (queued.has(delivery.notification.id)) return;
    queued.add(delivery.notification.id);
    pending.push(delivery);
  });
  const { deliverInbound } = proxyActivities<InboundDeliveryActivities>({
    taskQueue: CALLBACKS_TASK_QUEUE,
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: input.webhookRetrySeconds * 1000,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
  });

  for (let delivered = 0; delivered < DELIVERIES_PER_RUN && !workflowInfo().continueAsNewSuggested; delivered++) {
    if (!(await condition(() => pending.length > 0, IDLE))) return;
    pending.sort((a, b) => compare(a.notification.receivedAt, b.notification.receivedAt) || compare(a.notification.id, b.notification.id));
    const next = pending.shift();
    if (!next) continue;
    try {
      await deliverInbound(next);
    } catch {
      // Given up after the retry window: it stays stored (GET /v1/inbound); the next one is still worth sending.
    }
  }
  await continueAsNew<typeof inboundPairWorkflow>({ ...input, pending });
}

/** Code-unit order: ISO 8601 times sort as text, and no locale can change a replay. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
