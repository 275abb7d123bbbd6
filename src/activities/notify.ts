import type { ClientNotification } from '../domain/message';
import { ClientWebhook, type ClientWebhookDependencies } from './client-webhook';

export interface NotifyInput {
  readonly callbackUrl: string;
  /** Whose secret signs the callback; absent in workflows started before it was passed. */
  readonly accountId?: string;
  readonly notification: ClientNotification;
}

export type NotifyDependencies = ClientWebhookDependencies;

export function createNotifyActivities(dependencies: NotifyDependencies) {
  const webhook = new ClientWebhook(dependencies);
  return {
    /** POSTs one signed status change to the client's webhook; anything but a 2xx is retried by the caller's policy. */
    async notifyClient(input: NotifyInput): Promise<void> {
      const { id: messageId, sequence } = input.notification;
      await webhook.post(
        {
          url: input.callbackUrl,
          accountId: input.accountId,
          messageId,
          what: 'client callback',
          failureType: 'ClientCallbackFailed',
          refusedType: 'ClientCallbackRefused',
          logContext: { messageId, sequence },
        },
        input.notification,
      );
    },
  };
}
