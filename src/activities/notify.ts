import { ApplicationFailure } from '@temporalio/activity';
import { Agent, request } from 'undici';
import { CallbackSecrets, UnknownAccountError } from '../accounts/callback-secrets';
import { CallbackUrlRefusedError, checkCallbackUrl, guardedLookup, type HostResolver } from '../callbacks/address-policy';
import { callbackSignature, SIGNATURE_HEADER } from '../callbacks/signature';
import type { Database } from '../db/client';
import type { ClientNotification } from '../domain/message';
import type { Logger } from '../logger';

export interface NotifyInput {
  readonly callbackUrl: string;
  /** Whose secret signs the callback; absent in workflows started before it was passed. */
  readonly accountId?: string;
  readonly notification: ClientNotification;
}

export interface NotifyDependencies {
  readonly db: Database;
  readonly logger: Logger;
  /** CALLBACK_ALLOW_PRIVATE: loopback and private addresses may receive callbacks (local and test deployments). */
  readonly allowPrivateAddresses: boolean;
  /** How callback host names are resolved; the system resolver unless given. */
  readonly resolveHost?: HostResolver;
}

/** How long one POST to a client may take; a slow client is retried, never waited on for long. */
const CALLBACK_TIMEOUT_MS = 10_000;

export function createNotifyActivities(dependencies: NotifyDependencies) {
  const { logger, allowPrivateAddresses } = dependencies;
  const secrets = new CallbackSecrets(dependencies.db);
  // Every connection resolves its host through the address check and connects to what was checked.
  const dispatcher = new Agent({ connect: { lookup: guardedLookup(allowPrivateAddresses, dependencies.resolveHost) } });

  /** A callback that must not be sent is not retried: the same URL would be refused every time. */
  function refuse(input: NotifyInput, reason: string): ApplicationFailure {
    logger.warn({ messageId: input.notification.id, sequence: input.notification.sequence, reason }, 'client callback refused');
    return ApplicationFailure.nonRetryable(`client callback refused: ${reason}`, 'ClientCallbackRefused');
  }

  return {
    /** POSTs one signed status change to the client's webhook; anything but a 2xx is retried by the caller's policy. */
    async notifyClient(input: NotifyInput): Promise<void> {
      try {
        checkCallbackUrl(input.callbackUrl, allowPrivateAddresses);
      } catch (error) {
        if (error instanceof CallbackUrlRefusedError) throw refuse(input, error.reason);
        throw error;
      }
      let secret: string;
      try {
        secret = input.accountId ? await secrets.secretFor(input.accountId) : await secrets.secretForMessage(input.notification.id);
      } catch (error) {
        if (error instanceof UnknownAccountError) throw refuse(input, error.message);
        throw error;
      }
      const body = JSON.stringify(input.notification);
      let statusCode: number;
      try {
        const response = await request(input.callbackUrl, {
          method: 'POST',
          dispatcher,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'smsrouter',
            [SIGNATURE_HEADER]: callbackSignature(secret, body, Math.floor(Date.now() / 1000)),
          },
          body,
          headersTimeout: CALLBACK_TIMEOUT_MS,
          bodyTimeout: CALLBACK_TIMEOUT_MS,
        });
        statusCode = response.statusCode;
        await response.body.dump();
      } catch (error) {
        const refused = refusalIn(error);
        if (refused) throw refuse(input, refused.reason);
        throw ApplicationFailure.retryable(`client callback failed: ${error instanceof Error ? error.message : String(error)}`, 'ClientCallbackFailed');
      }
      if (statusCode < 200 || statusCode >= 300) {
        throw ApplicationFailure.retryable(`client callback answered ${statusCode}`, 'ClientCallbackFailed');
      }
    },
  };
}

/** undici may hand the lookup's error back as it is or as the cause of its own. */
function refusalIn(error: unknown): CallbackUrlRefusedError | undefined {
  if (error instanceof CallbackUrlRefusedError) return error;
  if (error instanceof Error && error.cause instanceof CallbackUrlRefusedError) return error.cause;
  return undefined;
}
