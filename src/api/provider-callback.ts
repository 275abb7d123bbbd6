import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { InboundCallback } from '../providers/types';

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
