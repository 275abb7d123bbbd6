import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Credentials, InboundCallback, ProviderAdapter } from '../providers/types';
import { checkWebhookToken, type WebhookSecrets } from '../providers/webhook-token';
import { ApiError } from './errors';

/** Signatures are computed over the exact bytes the provider sent: a provider webhook plugin keeps the body raw. */
export function keepRawBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
}

/** A provider's webhook call as its adapter reads it, with the full URL it called (Twilio signs it). */
export function providerCallback(request: FastifyRequest, publicBaseUrl: string): InboundCallback {
  return {
    method: request.method,
    url: new URL(request.url, publicBaseUrl).toString(),
    headers: request.headers,
    rawBody: typeof request.body === 'string' ? request.body : '',
  };
}

/**
 * Fails closed: a callback must carry our valid token, or the provider's own signature where its
 * credentials configure one (the adapter then verifies it, token or not). A token that is present
 * but wrong, or signed with a secret past its grace period, is refused even if a signature is valid.
 */
export function requireCallbackProof(callback: InboundCallback, provider: WebhookSecrets, adapter: ProviderAdapter, credentials: Credentials): void {
  const token = checkWebhookToken(callback.url, provider, new Date());
  if (token === 'invalid') throw new ApiError(401, 'unauthorized', 'webhook token is wrong or its secret was rotated out');
  if (token === 'absent' && !adapter.verifiesSignatures(credentials)) {
    throw new ApiError(401, 'unauthorized', 'callback carries no webhook token and this provider has no signature secret configured');
  }
}
