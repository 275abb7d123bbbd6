import { ApplicationFailure } from '@temporalio/activity';
import { errors as undiciErrors, Pool } from 'undici';
import { SUBMIT_FAILURE, type SubmitInput, type SubmitResult } from '../domain/dispatch';
import { adapterFor } from '../providers';
import { readCredentials } from '../providers/credentials';
import { AmbiguousSubmitError } from '../providers/errors';
import type { HttpResponse } from '../providers/types';
import type { RoutingCatalog } from '../routing/catalog';

export interface DispatchDependencies {
  readonly catalog: RoutingCatalog;
  /** Base of our public URL; providers are told to call `<base>/v1/dlr/<provider id>`. */
  readonly publicBaseUrl: string;
  readonly submitTimeoutMs: number;
}

/** Errors raised before a single byte of the request can have reached the provider. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Keeps one keep-alive pool per provider origin for the life of the worker: opening a TLS connection
 * per SMS would cost more than the SMS.
 */
export class ProviderPools {
  private readonly pools = new Map<string, { pool: Pool; settings: string }>();

  constructor(private readonly submitTimeoutMs: number) {}

  /** The origin's pool; a provider whose window or pipelining changed gets a new one, the old one drains. */
  poolFor(origin: string, connections: number, pipelining: number): Pool {
    const settings = `${connections}/${pipelining}`;
    const existing = this.pools.get(origin);
    if (existing?.settings === settings) return existing.pool;
    if (existing) void existing.pool.close();
    const pool = new Pool(origin, {
      connections,
      pipelining,
      keepAliveTimeout: 30_000,
      headersTimeout: this.submitTimeoutMs,
      bodyTimeout: this.submitTimeoutMs,
      connectTimeout: Math.min(this.submitTimeoutMs, 5_000),
    });
    this.pools.set(origin, { pool, settings });
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map(({ pool }) => pool.close()));
    this.pools.clear();
  }
}

export function createDispatchActivities(deps: DispatchDependencies, pools: ProviderPools) {
  return {
    /**
     * Sends one SMS to one provider, once, and classifies the answer as a typed failure; the
     * workflow decides whether to retry (transient), fail over (permanent) or hold back (ambiguous).
     */
    async submitToProvider(input: SubmitInput): Promise<SubmitResult> {
      const provider = await deps.catalog.provider(input.providerId);
      if (!provider) {
        throw ApplicationFailure.create({
          type: SUBMIT_FAILURE.permanent,
          message: `provider ${input.providerId} does not exist`,
          nonRetryable: true,
          details: ['unknown_provider'],
        });
      }
      const adapter = adapterFor(provider.adapter);
      const credentials = readCredentials(provider.credentialsRef);
      const request = adapter.buildSubmitRequest(
        { ...input.sms, deliveryReportUrl: `${deps.publicBaseUrl}/v1/dlr/${encodeURIComponent(provider.id)}` },
        credentials,
      );
      const base = new URL(provider.baseUrl);
      const pool = pools.poolFor(base.origin, provider.window, provider.pipelining);

      let response: HttpResponse;
      try {
        const answer = await pool.request({
          method: request.method,
          path: `${base.pathname.replace(/\/$/, '')}${request.path}`,
          headers: request.headers,
          body: request.body,
        });
        response = { statusCode: answer.statusCode, headers: answer.headers, body: await answer.body.text() };
      } catch (error) {
        throw classifyNetworkError(error);
      }

      let outcome;
      try {
        outcome = adapter.classifySubmitResponse(response);
      } catch (error) {
        if (error instanceof AmbiguousSubmitError) throw ambiguous(error.message);
        throw error;
      }
      switch (outcome.kind) {
        case 'accepted':
          return { providerMessageIds: outcome.providerMessageIds };
        case 'transient':
          // The workflow retries; the provider's Retry-After travels with the failure as its delay.
          throw ApplicationFailure.create({
            type: SUBMIT_FAILURE.transient,
            message: outcome.reason,
            details: [outcome.code, outcome.retryAfterMs],
          });
        case 'permanent':
          throw ApplicationFailure.create({
            type: SUBMIT_FAILURE.permanent,
            message: outcome.reason,
            nonRetryable: true,
            details: [outcome.code],
          });
      }
    },
  };
}

function ambiguous(message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: SUBMIT_FAILURE.ambiguous,
    message,
    nonRetryable: true,
    details: ['ambiguous'],
  });
}

function classifyNetworkError(error: unknown): ApplicationFailure {
  const code = errorCode(error);
  if (code !== undefined && NOT_SENT_CODES.has(code)) {
    return ApplicationFailure.create({
      type: SUBMIT_FAILURE.transient,
      message: `provider unreachable (${code})`,
      details: [code.toLowerCase()],
    });
  }
  const description = error instanceof Error ? error.message : String(error);
  return ambiguous(`request sent, no answer: ${description}${code ? ` (${code})` : ''}`);
}

function errorCode(error: unknown): string | undefined {
  if (error instanceof undiciErrors.UndiciError && 'code' in error && typeof error.code === 'string') return error.code;
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  if (error instanceof Error && error.cause instanceof Error) return errorCode(error.cause);
  return undefined;
}
