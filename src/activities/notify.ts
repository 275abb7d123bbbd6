import { ApplicationFailure } from '@temporalio/activity';
import { request } from 'undici';
import type { ClientNotification } from '../domain/message';

export interface NotifyInput {
  readonly callbackUrl: string;
  readonly notification: ClientNotification;
}

/** How long one POST to a client may take; a slow client is retried, never waited on for long. */
const CALLBACK_TIMEOUT_MS = 10_000;

export function createNotifyActivities() {
  return {
    /** POSTs one status change to the client's webhook; anything but a 2xx is retried by the caller's policy. */
    async notifyClient(input: NotifyInput): Promise<void> {
      let statusCode: number;
      try {
        const response = await request(input.callbackUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'smsrouter' },
          body: JSON.stringify(input.notification),
          headersTimeout: CALLBACK_TIMEOUT_MS,
          bodyTimeout: CALLBACK_TIMEOUT_MS,
        });
        statusCode = response.statusCode;
        await response.body.dump();
      } catch (error) {
        throw ApplicationFailure.retryable(`client callback failed: ${error instanceof Error ? error.message : String(error)}`, 'ClientCallbackFailed');
      }
      if (statusCode < 200 || statusCode >= 300) {
        throw ApplicationFailure.retryable(`client callback answered ${statusCode}`, 'ClientCallbackFailed');
      }
    },
  };
}
