import { activityInfo, ApplicationFailure, log } from '@temporalio/activity';
import { errors as undiciErrors, Pool } from 'undici';
import { settlesWithin } from '../concurrency';
import type { Database } from '../db/client';
import { SUBMIT_ACTIVITY_SLACK_MS, SUBMIT_FAILURE, type SubmitInput, type SubmitResult } from '../domain/dispatch';
import type { StatusChange } from '../domain/message';
import { OPTED_OUT_ERROR_CODE } from '../domain/opt-out';
import type { SuppressionList } from '../inbound/suppression';
import { adapterFor } from '../providers';
import { readCredentials } from '../providers/credentials';
import { AmbiguousSubmitError } from '../providers/errors';
import { providerWebhookUrls } from '../providers/webhook-token';
import type { HttpResponse } from '../providers/types';
import type { RoutingCatalog } from '../routing/catalog';
import { writeStatusChanges } from './status';
import { claimSubmitAttempt } from './submit-attempts';
import type { SubmitPacer } from './submit-pacer';

export interface DispatchDependencies {
  /** Where a submit attempt is marked before its request can leave (see claimSubmitAttempt). */
  readonly db: Database;
  readonly catalog: RoutingCatalog;
  /** Base of our public URL; providers are told to call `<base>/v1/dlr/<provider id>?token=…`. */
  readonly publicBaseUrl: string;
  readonly submitTimeoutMs: number;
  /** The list a message whose route came with it is checked against (SubmitInput.unrecorded). */
  readonly suppressions: SuppressionList;
}

/** Errors raised before a single byte of the request can have reached the provider. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  // A closed pool refuses the request before dispatching it.
  'UND_ERR_CLOSED',
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

/** `pacer` spaces this worker's submits at its provider queue's rate (see SubmitPacer). */
export function createDispatchActivities(deps: DispatchDependencies, pools: ProviderPools, pacer: SubmitPacer) {
  return {
    /**
     * Sends one SMS to one provider, once, and classifies the answer as a typed failure; the
     * workflow decides whether to retry (transient), fail over (permanent) or hold back (ambiguous).
     */
    async submitToProvider(input: SubmitInput): Promise<SubmitResult> {
      const startedAt = Date.now();
      // An activity still running at its start-to-close is read as ambiguous, even after the provider accepted.
      const deadline = startedAt + activityInfo().startToCloseTimeoutMs - SUBMITTED_WRITE_MARGIN_MS;
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
        { ...input.sms, deliveryReportUrl: providerWebhookUrls(deps.publicBaseUrl, provider).deliveryReports },
        credentials,
      );
      const base = new URL(provider.baseUrl);
      // Before the claim: a worker that dies while waiting for its slot has sent nothing.
      await pacer.waitForSlot();
      const claimed = input.unrecorded?.length ? await recordBeforeSend(deps, input.unrecorded, input.attempt) : false;
      if (!claimed) await markAboutToSend(deps.db, input);
      // Taken right before the request, with no await between: a pool replaced meanwhile is closed.
      const pool = pools.poolFor(base.origin, provider.window, provider.pipelining);

      // From here on the request may reach the provider: whatever goes wrong is ambiguous, unless
      // the error proves nothing left (connection refused…).
      let outcome;
      try {
        const answer = await pool.request({
          method: request.method,
          path: `${base.pathname.replace(/\/$/, '')}${request.path}`,
          headers: request.headers,
          body: request.body,
          // Given up before the activity's start-to-close (the pacer's wait included): the workflow hears "ambiguous" from us.
          signal: AbortSignal.timeout(Math.max(1_000, startedAt + activityInfo().startToCloseTimeoutMs - SUBMIT_ACTIVITY_SLACK_MS - Date.now())),
        });
        const response: HttpResponse = { statusCode: answer.statusCode, headers: answer.headers, body: await answer.body.text() };
        outcome = adapter.classifySubmitResponse(response);
      } catch (error) {
        throw classifyFailureAfterSend(error);
      }
      switch (outcome.kind) {
        case 'accepted': {
          const submitted = await recordSubmitted(deps.db, input, outcome.providerMessageIds, deadline);
          return submitted ? { providerMessageIds: outcome.providerMessageIds, submitted } : { providerMessageIds: outcome.providerMessageIds };
        }
        case 'transient':
          // The workflow retries; the provider's Retry-After travels with the failure as its delay.
          throw ApplicationFailure.create({
            type: SUBMIT_FAILURE.transient,
            message: outcome.reason,
            details: [outcome.code, outcome.retryAfterMs],
          });
        case 'permanent':
          if (outcome.recipientOptedOut) await deps.suppressions.addRecipientOf(input.sms.messageId, outcome.code);
          throw ApplicationFailure.create({
            type: SUBMIT_FAILURE.permanent,
            message: outcome.recipientOptedOut ? `${outcome.reason} (${outcome.code})` : outcome.reason,
            nonRetryable: true,
            // An opted-out recipient is final for every route: the workflow must not fail over.
            details: [outcome.recipientOptedOut ? OPTED_OUT_ERROR_CODE : outcome.code],
          });
      }
    },
  };
}

/**
 * Records the `submitted` change when the workflow asked for it. The SMS is at the provider by now:
 * a failed write must not fail the submit (the workflow would read it as not sent), so it only
 * leaves the write to the workflow. The write is idempotent; one that committed unseen is harmless.
 */
async function recordSubmitted(db: Database, input: SubmitInput, providerMessageIds: readonly string[], deadline: number): Promise<StatusChange | undefined> {
  if (!input.submitted) return undefined;
  const change: StatusChange = {
    messageId: input.sms.messageId,
    sequence: input.submitted.sequence,
    country: input.submitted.country,
    occurredAt: new Date().toISOString(),
    status: 'submitted',
    providerId: input.providerId,
    providerMessageId: providerMessageIds[0],
  };
  const write = writeStatusChanges(db, [change]).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  // A database that hangs must not hold the activity past its deadline: the workflow writes it instead.
  if (!(await settlesWithin(write, deadline - Date.now()))) {
    log.warn('submitted status not written in time; the workflow writes it', { messageId: change.messageId });
    return undefined;
  }
  const failure = await write;
  if (failure === undefined) return change;
  log.warn('submitted status not written; the workflow writes it', { messageId: change.messageId, error: failure });
  return undefined;
}

/**
 * Writes the changes the workflow left to this submit (SubmitInput.unrecorded), creating the Message
 * row with the attempt marked, and checks the suppression list no routing step has checked. Nothing
 * has left yet: a failure here is "not sent", and a row owned by another run is the workflow's
 * duplicate failure. True when the write marked the attempt.
 */
async function recordBeforeSend(deps: DispatchDependencies, changes: readonly StatusChange[], attempt: number | undefined): Promise<boolean> {
  const message = changes.find((change) => change.message)?.message;
  try {
    // One round trip, as the mark alone costs: the time between the rate-limited start and the
    // request stays short and even, so the provider sees the pace the queue keeps. A suppressed
    // recipient's rows are the ones the workflow writes with its refusal anyway.
    const [suppressed, written] = await Promise.all([
      message ? deps.suppressions.isSuppressed(message.accountId, message.to) : false,
      writeStatusChanges(deps.db, changes, attempt),
    ]);
    if (suppressed) {
      throw ApplicationFailure.create({
        type: SUBMIT_FAILURE.permanent,
        message: 'the recipient opted out of messages from this account',
        nonRetryable: true,
        details: [OPTED_OUT_ERROR_CODE],
      });
    }
    return written.claimed;
  } catch (error) {
    if (error instanceof ApplicationFailure) throw error;
    throw ApplicationFailure.create({
      type: SUBMIT_FAILURE.transient,
      message: `message could not be recorded, not sent: ${error instanceof Error ? error.message : String(error)}`,
      details: ['message_not_recorded'],
    });
  }
}

/** Time kept back from the activity's start-to-close when the submitted status is written. */
const SUBMITTED_WRITE_MARGIN_MS = 1_000;

/**
 * Claims the attempt before its request can leave, so that an attempt that times out without the
 * claim is known unsent. A submit scheduled before attempts were counted carries none.
 */
async function markAboutToSend(db: Database, input: SubmitInput): Promise<void> {
  if (input.attempt === undefined) return;
  let claimed: boolean;
  try {
    claimed = await claimSubmitAttempt(db, { messageId: input.sms.messageId, attempt: input.attempt });
  } catch (error) {
    throw ApplicationFailure.create({
      type: SUBMIT_FAILURE.transient,
      message: `submit attempt could not be marked, not sent: ${error instanceof Error ? error.message : String(error)}`,
      details: ['attempt_not_marked'],
    });
  }
  if (!claimed) {
    // The workflow gave this attempt up as never sent (it timed out before getting here): keep it so.
    throw ApplicationFailure.create({
      type: SUBMIT_FAILURE.permanent,
      message: `submit attempt ${input.attempt} of ${input.sms.messageId} was given up before it was sent; not sent`,
      nonRetryable: true,
      details: ['attempt_fenced'],
    });
  }
}

function ambiguous(message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: SUBMIT_FAILURE.ambiguous,
    message,
    nonRetryable: true,
    details: ['ambiguous'],
  });
}

/** Any doubt after the request may have left is ambiguous: a failover could send the SMS twice. */
function classifyFailureAfterSend(error: unknown): ApplicationFailure {
  if (error instanceof AmbiguousSubmitError) return ambiguous(error.message);
  const code = errorCode(error);
  if (code !== undefined && NOT_SENT_CODES.has(code)) {
    return ApplicationFailure.create({
      type: SUBMIT_FAILURE.transient,
      message: `provider unreachable (${code})`,
      details: [code.toLowerCase()],
    });
  }
  const description = error instanceof Error ? error.message : String(error);
  return ambiguous(`request sent, no usable answer: ${description}${code ? ` (${code})` : ''}`);
}

function errorCode(error: unknown): string | undefined {
  if (error instanceof undiciErrors.UndiciError && 'code' in error && typeof error.code === 'string') return error.code;
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  if (error instanceof Error && error.cause instanceof Error) return errorCode(error.cause);
  return undefined;
}
