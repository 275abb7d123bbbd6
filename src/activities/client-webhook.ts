import { ApplicationFailure } from '@temporalio/activity';
import { request } from 'undici';

/** How long one POST to a client may take; a slow client is retried, never waited on for long. */
const CLIENT_WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * POSTs JSON to a client's webhook (status callbacks, inbound messages). Anything but a 2xx is a
 * retryable failure of type `failureType`, for the caller's retry policy.
 */
export async function postToClientWebhook(url: string, payload: unknown, failureType: string): Promise<void> {
  let statusCode: number;
  try {
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'smsrouter' },
      body: JSON.stringify(payload),
      headersTimeout: CLIENT_WEBHOOK_TIMEOUT_MS,
      bodyTimeout: CLIENT_WEBHOOK_TIMEOUT_MS,
    });
    statusCode = response.statusCode;
    await response.body.dump();
  } catch (error) {
    throw ApplicationFailure.retryable(`client webhook failed: ${error instanceof Error ? error.message : String(error)}`, failureType);
  }
  // The URL stays out of the message: it may carry a token, and failures show in the Temporal UI.
  if (statusCode < 200 || statusCode >= 300) throw ApplicationFailure.retryable(`client webhook answered ${statusCode}`, failureType);
}
