import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Provider } from '../generated/prisma/client';
import { adapterFor } from '../providers';
import { readCredentials } from '../providers/credentials';
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

/** A provider's callback whose caller has proven it is that provider, with what parsing it needs. */
export interface AuthenticatedCallback {
  readonly provider: Provider;
  readonly credentials: Credentials;
  readonly callback: InboundCallback;
}

/**
 * The front door of every provider webhook (delivery reports, inbound): the provider by its id
 * (404 if there is none), its credentials, and the proof the caller is that provider (401 otherwise).
 */
export async function authenticatedCallback(
  request: FastifyRequest<{ Params: { provider: string } }>,
  providers: { provider(id: string): Promise<Provider | undefined> },
  publicBaseUrl: string,
): Promise<AuthenticatedCallback> {
  const providerId = request.params.provider;
  const provider = await providers.provider(providerId);
  if (!provider) throw new ApiError(404, 'unknown_provider', `no provider ${providerId}`, 'provider');
  const credentials = readCredentials(provider.credentialsRef);
  const callback = providerCallback(request, publicBaseUrl);
  requireCallbackProof(callback, provider, adapterFor(provider.adapter), credentials);
  return { provider, credentials, callback };
}
