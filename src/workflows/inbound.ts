import {
  condition,
  continueAsNew,
  defineSignal,
  executeChild,
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { InboundActivities, InboundDeliveryActivities } from '../activities/inbound';
import { CALLBACKS_TASK_QUEUE, ROUTER_TASK_QUEUE } from '../domain/dispatch';
import type { InboundArrival, InboundOutcome, InboundPairInput, InboundWorkflowInput } from '../domain/inbound';
import type { MessageRequest } from '../domain/message';
import { acceptedSearchAttributes } from '../domain/search-attributes';
import { messageWorkflow } from './message';

/** Sent by the webhook, in the order messages arrived, to the workflow of their number pair. */
export const inboundArrivedSignal = defineSignal<[InboundArrival]>('inboundArrived');

const { settleInbound } = proxyLocalActivities<InboundActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

/**
 * One inbound SMS (workflow id "<provider>:<provider message id>", so a provider's retry is the
 * same run): resolve its account and apply its opt-out or opt-in at once, whatever is still
 * waiting to reach the account's webhook, and send its confirmation where the account wants one. A
 * message nobody's number received ends here, stored.
 */
export async function inboundMessageWorkflow(input: InboundWorkflowInput): Promise<InboundOutcome> {
  const outcome = await settleInbound(input.inboundId);
  if (outcome.reply) await sendKeywordReply(outcome.reply);
  return outcome;
}

/**
 * The confirmation of an opt-out or opt-in: a message workflow like any other (Message row,
 * statuses, DLR), outliving this one. Its id comes from the inbound message, so it starts once.
 */
async function sendKeywordReply(request: MessageRequest): Promise<void> {
  try {
    await startChild(messageWorkflow, {
      workflowId: request.messageId,
      taskQueue: ROUTER_TASK_QUEUE,
      args: [request],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: acceptedSearchAttributes(request),
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

/** A pair with nothing new for this long ends its workflow; the next message starts a new run. */
const IDLE = '1 minute';
/** Messages per run before continue-as-new keeps the history small. */
const MESSAGES_PER_RUN = 200;

interface Arrived {
  readonly inboundId: string;
  readonly outcome: Promise<InboundOutcome | undefined>;
}

/**
 * The inbound messages of one (account, sender, our number) pair, in the order the webhook stored
 * them: each one's own workflow starts at once (so a STOP is applied while earlier messages still
 * wait), and they reach the account's webhook one at a time in arrival order, each retried with
 * backoff for the configured time, so a dead endpoint holds up only its own pair.
 */
export async function inboundPairWorkflow(input: InboundPairInput): Promise<void> {
  const queue: Arrived[] = [];
  // A provider's retry of a message is signalled again.
  const seen = new Set<string>();
  setHandler(inboundArrivedSignal, ({ inboundId }) => {
    if (seen.has(inboundId)) return;
    seen.add(inboundId);
    queue.push({ inboundId, outcome: settled(inboundId) });
  });
  const { deliverInbound } = proxyActivities<InboundDeliveryActivities>({
    taskQueue: CALLBACKS_TASK_QUEUE,
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: input.webhookRetrySeconds * 1000,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
  });

  for (let handled = 1; ; handled++) {
    if (!(await condition(() => queue.length > 0, IDLE))) return;
    const next = queue.shift();
    const delivery = next && (await next.outcome)?.delivery;
    if (delivery) {
      try {
        await deliverInbound(delivery);
      } catch {
        // Given up after the retry window: it stays stored (GET /v1/inbound); the next one is still worth sending.
      }
    }
    // Only with nothing queued: a new run must not start the queued messages' workflows again.
    if (handled >= MESSAGES_PER_RUN && queue.length === 0) await continueAsNew<typeof inboundPairWorkflow>(input);
  }
}

/** The message's own workflow's outcome; undefined when an earlier run of this pair already handled it. */
async function settled(inboundId: string): Promise<InboundOutcome | undefined> {
  try {
    return await executeChild(inboundMessageWorkflow, {
      workflowId: inboundId,
      args: [{ inboundId }],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    throw error;
  }
}
