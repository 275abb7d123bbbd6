import type { ClientNotification } from '../domain/message';
import { postToClientWebhook } from './client-webhook';

export interface NotifyInput {
  readonly callbackUrl: string;
  readonly notification: ClientNotification;
}

export function createNotifyActivities() {
  return {
    /** POSTs one status change to the client's webhook; anything but a 2xx is retried by the caller's policy. */
    async notifyClient(input: NotifyInput): Promise<void> {
      await postToClientWebhook(input.callbackUrl, input.notification, 'ClientCallbackFailed');
    },
  };
}
