import type { HttpResponse } from '../../providers/types';
import type { SimulatedFailure, SimulatorDialect, SimulatorInboundDialect } from './types';

const FAILURES: Readonly<Record<SimulatedFailure, { statusCode: number; code: string; message: string }>> = {
  throttled: { statusCode: 429, code: 'throttled', message: 'too many requests' },
  server_error: { statusCode: 503, code: 'unavailable', message: 'service unavailable' },
  invalid_number: { statusCode: 400, code: 'invalid_number', message: 'destination is not a valid number' },
  // Our generic format has no opt-out refusal: the nearest is refusing the number.
  opted_out: { statusCode: 400, code: 'invalid_number', message: 'destination does not accept messages from this sender' },
  auth: { statusCode: 401, code: 'unauthorized', message: 'bad credentials' },
};

function json(statusCode: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** The provider side of src/providers/generic.ts. */
export const genericDialect: SimulatorDialect = {
  name: 'generic',
  idPerPart: false,

  isSubmit: (request) => request.method === 'POST' && request.path.split('?')[0] === '/messages',

  parseSubmit(request) {
    let value: unknown;
    try {
      value = JSON.parse(request.rawBody);
    } catch {
      return undefined;
    }
    if (typeof value !== 'object' || value === null) return undefined;
    const { to, from, text, reference, callbackUrl } = value as Record<string, unknown>;
    if (typeof to !== 'string' || typeof from !== 'string' || typeof text !== 'string') return undefined;
    return {
      to,
      from,
      body: text,
      reference: typeof reference === 'string' ? reference : undefined,
      callbackUrl: typeof callbackUrl === 'string' ? callbackUrl : undefined,
    };
  },

  acceptedResponse: (_submit, providerMessageIds) => json(201, { id: providerMessageIds[0] }),

  failureResponse(failure, retryAfterSeconds) {
    const { statusCode, code, message } = FAILURES[failure];
    const headers: Record<string, string> = failure === 'throttled' ? { 'retry-after': String(retryAfterSeconds) } : {};
    return json(statusCode, { error: { code, message } }, headers);
  },

  deliveryReport(submit, providerMessageId, outcome, callbackUrl, credentials) {
    const errorCode = outcome === 'undelivered' ? 'network_error' : outcome === 'rejected' ? 'rejected_by_carrier' : undefined;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (credentials.dlrSecret) headers['x-dlr-secret'] = credentials.dlrSecret;
    return {
      method: 'POST',
      url: callbackUrl,
      headers,
      body: JSON.stringify({
        id: providerMessageId,
        reference: submit.reference,
        status: outcome,
        errorCode,
        timestamp: new Date().toISOString(),
      }),
    };
  },
};

/** An inbound message in our generic JSON (PROVIDERS.md §5e), parts one by one. */
export const genericInboundDialect: SimulatorInboundDialect = {
  sendsParts: true,
  inboundCallback(sms, part, url, credentials) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (credentials.dlrSecret) headers['x-dlr-secret'] = credentials.dlrSecret;
    return {
      method: 'POST',
      url,
      headers,
      body: JSON.stringify({ id: part.providerMessageId, from: sms.from, to: sms.to, text: part.text, receivedAt: new Date().toISOString(), concat: part.concat }),
    };
  },
};
