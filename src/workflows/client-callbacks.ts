import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { NotifyActivities } from '../activities';
import { DEFAULT_CALLBACK_IDLE_SECONDS, type ClientCallbackTarget, type ClientNotification } from '../domain/message';
import { CALLBACKS_TASK_QUEUE } from '../domain/dispatch';
import { isFinalStatus } from '../domain/status';

export const clientNotificationSignal = defineSignal<[ClientNotification]>('clientNotification');


export function clientCallbacksWorkflowId(messageId: string): string {
  return `${messageId}/callbacks`;
}

/**
 * Delivers a message's status changes to the client's webhook, in order, each retried with
 * exponential backoff for the configured time. It runs beside the message workflow so that a slow
 * or dead client endpoint never holds up the message.
 */
export async function clientCallbacksWorkflow(target: ClientCallbackTarget): Promise<void> {
  const pending = new Map<number, ClientNotification>();
  setHandler(clientNotificationSignal, (notification) => {
    pending.set(notification.sequence, notification);
  });
  const { notifyClient } = proxyActivities<NotifyActivities>({
    taskQueue: CALLBACKS_TASK_QUEUE,
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: target.retrySeconds * 1000,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
  });

  // A final status with nothing newer for this long ends the workflow; a later one starts a new run.
  const idleAfterFinalMs = (target.idleSeconds ?? DEFAULT_CALLBACK_IDLE_SECONDS) * 1000;
  let lastFinal = false;
  for (;;) {
    if (lastFinal) {
      if (!(await condition(() => pending.size > 0, idleAfterFinalMs))) return;
    } else {
      await condition(() => pending.size > 0);
    }
    // Lowest sequence first; one in flight at a time keeps the client's view in order.
    const next = Math.min(...pending.keys());
    const notification = pending.get(next);
    pending.delete(next);
    if (!notification) continue;
    try {
      await notifyClient({ callbackUrl: target.callbackUrl, accountId: target.accountId, notification });
    } catch {
      // Given up after the retry window: the next status change is still worth telling.
    }
    lastFinal = isFinalStatus(notification.status);
  }
}
