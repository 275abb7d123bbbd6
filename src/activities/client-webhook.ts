import { ApplicationFailure } from '@temporalio/activity';
import { Agent, request } from 'undici';
import { CallbackSecrets, UnknownAccountError } from '../accounts/callback-secrets';
import { CallbackUrlRefusedError, checkCallbackUrl, guardedLookup, type HostResolver } from '../callbacks/address-policy';
import { callbackSignature, SIGNATURE_HEADER } from '../callbacks/signature';
import type { Database } from '../db/client';
import type { Logger } from '../logger';

export interface ClientWebhookDependencies {
  readonly db: Database;
  readonly logger: Logger;
  /** CALLBACK_ALLOW_PRIVATE: loopback and private addresses may receive webhooks (local and test deployments). */
  readonly allowPrivateAddresses: boolean;
  /** How webhook host names are resolved; the system resolver unless given. */
  readonly resolveHost?: HostResolver;
}

/** One POST to a client's endpoint: where, whose secret signs it, and how its failures are named. */
export interface ClientWebhookPost {
  readonly url: string;
  /** Whose callback secret signs the body; absent, it is found through `messageId` (older workflows). */
  readonly accountId?: string;
  readonly messageId?: string;
  /** What the failure is called in the Temporal UI and the logs: "client callback", "inbound webhook". */
  readonly what: string;
  /** ApplicationFailure types: a retryable failure, and a refusal that is never retried. */
  readonly failureType: string;
  readonly refusedType: string;
  readonly logContext: Readonly<Record<string, unknown>>;
}

/** How long one POST to a client may take; a slow client is retried, never waited on for long. */
const CLIENT_WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * Signed, address-checked JSON POSTs to clients' endpoints (status callbacks, inbound messages).
 * The address is checked before the request and again for every address the name resolves to,
 * and the socket connects to exactly the address that was checked, so DNS rebinding cannot slip
 * past. Anything but a 2xx is a retryable failure for the caller's retry policy; an address that
 * must not be called fails for good, since the same URL would be refused every time.
 */
export class ClientWebhook {
  private readonly secrets: CallbackSecrets;
  private readonly dispatcher: Agent;

  constructor(private readonly dependencies: ClientWebhookDependencies) {
    this.secrets = new CallbackSecrets(dependencies.db);
    this.dispatcher = new Agent({ connect: { lookup: guardedLookup(dependencies.allowPrivateAddresses, dependencies.resolveHost) } });
  }

  async post(target: ClientWebhookPost, payload: unknown): Promise<void> {
    try {
      checkCallbackUrl(target.url, this.dependencies.allowPrivateAddresses);
    } catch (error) {
      if (error instanceof CallbackUrlRefusedError) throw this.refuse(target, error.reason);
      throw error;
    }
    const secret = await this.secretFor(target);
    const body = JSON.stringify(payload);
    let statusCode: number;
    try {
      const response = await request(target.url, {
        method: 'POST',
        dispatcher: this.dispatcher,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'smsrouter',
          [SIGNATURE_HEADER]: callbackSignature(secret, body, Math.floor(Date.now() / 1000)),
        },
        body,
        headersTimeout: CLIENT_WEBHOOK_TIMEOUT_MS,
        bodyTimeout: CLIENT_WEBHOOK_TIMEOUT_MS,
      });
      statusCode = response.statusCode;
      await response.body.dump();
    } catch (error) {
      const refused = refusalIn(error);
      if (refused) throw this.refuse(target, refused.reason);
      throw ApplicationFailure.retryable(`${target.what} failed: ${error instanceof Error ? error.message : String(error)}`, target.failureType);
    }
    // The URL stays out of the message: it may carry a token, and failures show in the Temporal UI.
    if (statusCode < 200 || statusCode >= 300) throw ApplicationFailure.retryable(`${target.what} answered ${statusCode}`, target.failureType);
  }

  private async secretFor(target: ClientWebhookPost): Promise<string> {
    try {
      if (target.accountId) return await this.secrets.secretFor(target.accountId);
      if (target.messageId) return await this.secrets.secretForMessage(target.messageId);
    } catch (error) {
      if (error instanceof UnknownAccountError) throw this.refuse(target, error.message);
      throw error;
    }
    throw this.refuse(target, 'no account to sign it for');
  }

  private refuse(target: ClientWebhookPost, reason: string): ApplicationFailure {
    this.dependencies.logger.warn({ ...target.logContext, reason }, `${target.what} refused`);
    return ApplicationFailure.nonRetryable(`${target.what} refused: ${reason}`, target.refusedType);
  }
}

/** undici may hand the lookup's error back as it is or as the cause of its own. */
function refusalIn(error: unknown): CallbackUrlRefusedError | undefined {
  if (error instanceof CallbackUrlRefusedError) return error;
  if (error instanceof Error && error.cause instanceof CallbackUrlRefusedError) return error.cause;
  return undefined;
}
