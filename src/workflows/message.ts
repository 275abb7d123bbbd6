import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { DispatchActivities, RouterActivities } from '../activities';
import type {
  DeliveryReportSignal,
  MessageOutcome,
  MessageRequest,
  RouteCandidate,
  StatusChange,
} from '../domain/message';
import { isFinalReportStatus, type DeliveryReportStatus, type MessageStatus } from '../domain/status';
import { providerTaskQueue, SUBMIT_FAILURE } from '../domain/dispatch';

export const deliveryReportSignal = defineSignal<[DeliveryReportSignal]>('deliveryReport');

export interface MessageState {
  readonly status: MessageStatus;
  readonly providerId?: string;
  readonly providerMessageId?: string;
}
export const statusQuery = defineQuery<MessageState>('status');

// Database writes and route look-ups are short and local to the router: local activities keep them
// out of the task queues and cost one marker event each instead of three events.
const { recordStatus, resolveRoute } = proxyLocalActivities<RouterActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

/** Submit tries on one provider (transient failures) before the message moves to the next candidate. */
const SUBMIT_ATTEMPTS_PER_PROVIDER = 5;
const RETRY_INITIAL_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/** Resends after an ambiguous submit on an at-least-once provider, before the message ends unknown. */
const MAX_AMBIGUOUS_RESENDS = 2;

function submitActivityFor(providerId: string): DispatchActivities['submitToProvider'] {
  return proxyActivities<DispatchActivities>({
    taskQueue: providerTaskQueue(providerId),
    // Covers the HTTP timeout of one request; waiting in the rate-limited queue is not counted.
    startToCloseTimeout: '30 seconds',
    // Never retried by the server: a retry after a timeout could send the SMS twice. See submitTo.
    retry: { maximumAttempts: 1 },
  }).submitToProvider;
}

type AttemptResult =
  | { readonly kind: 'submitted'; readonly providerMessageIds: readonly string[] }
  | { readonly kind: 'ambiguous'; readonly reason: string }
  | { readonly kind: 'failed'; readonly errorCode: string; readonly reason: string };

/**
 * One SMS, from acceptance to its final status:
 * accepted → routed → submitted → (intermediate DLRs) → delivered | undelivered | rejected | expired | unknown,
 * moving to the next route candidate when a provider cannot take the message.
 */
export async function messageWorkflow(request: MessageRequest): Promise<MessageOutcome> {
  // Reports may arrive before the submit activity returns: buffer every one from the first moment.
  const reports: DeliveryReportSignal[] = [];
  let state: MessageState = { status: 'accepted' };
  let sequence = 0;
  setHandler(deliveryReportSignal, (signal) => {
    reports.push(signal);
  });
  setHandler(statusQuery, () => state);

  async function record(change: Omit<StatusChange, 'messageId' | 'sequence' | 'occurredAt' | 'country'>): Promise<void> {
    sequence += 1;
    state = { status: change.status, providerId: change.providerId, providerMessageId: change.providerMessageId };
    await recordStatus({
      ...change,
      messageId: request.messageId,
      sequence,
      country: request.country,
      occurredAt: new Date().toISOString(),
    });
  }

  async function finish(outcome: MessageOutcome): Promise<MessageOutcome> {
    await record(outcome);
    return outcome;
  }

  await record({ status: 'accepted', message: request });
  const candidates = await resolveRoute({ to: request.to, accountId: request.accountId, from: request.from });
  if (candidates.length === 0) {
    return finish({ status: 'failed', errorCode: 'no_route', reason: `no route to ${request.to}` });
  }

  let lastFailure: { errorCode: string; reason: string } = { errorCode: 'no_route', reason: 'no provider took the message' };
  for (const candidate of candidates) {
    const providerId = candidate.providerId;
    await record({ status: 'routed', providerId });
    const recordRetry = (errorCode: string, reason: string, retryInMs: number) =>
      record({ status: 'attempt_failed', providerId, errorCode, reason: `${reason}; retrying in ${retryInMs} ms` });
    let attempt = await submitTo(candidate, request, recordRetry);
    for (let resend = 1; attempt.kind === 'ambiguous' && candidate.deliveryGuarantee === 'at_least_once' && resend <= MAX_AMBIGUOUS_RESENDS; resend += 1) {
      await record({
        status: 'attempt_failed',
        providerId,
        errorCode: 'ambiguous_submit',
        reason: `${attempt.reason}; resending (at-least-once, resend ${resend} of ${MAX_AMBIGUOUS_RESENDS})`,
      });
      attempt = await submitTo(candidate, request, recordRetry);
    }

    if (attempt.kind === 'failed') {
      lastFailure = attempt;
      await record({ status: 'attempt_failed', providerId, errorCode: attempt.errorCode, reason: attempt.reason });
      continue;
    }
    if (attempt.kind === 'ambiguous') {
      // At-most-once: the provider may have the message, so it is never resent. Only a delivery
      // report naming our reference can still tell what became of it.
      const ambiguous: MessageOutcome = { status: 'unknown', providerId, errorCode: 'ambiguous_submit', reason: attempt.reason };
      await record(ambiguous);
      const outcome = await awaitFinalReport(candidate, []);
      return outcome.errorCode === 'dlr_timeout' ? ambiguous : finish(outcome);
    }
    await record({ status: 'submitted', providerId, providerMessageId: attempt.providerMessageIds[0] });
    return finish(await awaitFinalReport(candidate, attempt.providerMessageIds));
  }
  return finish({ status: 'failed', ...lastFailure });

  /**
   * Waits until every SMS part has a final report, recording intermediate ones as they come.
   * When the submit was ambiguous there are no provider ids: any report for this provider that names
   * our message counts.
   */
  async function awaitFinalReport(candidate: RouteCandidate, providerMessageIds: readonly string[]): Promise<MessageOutcome> {
    const partCount = Math.max(1, providerMessageIds.length);
    const finalByPart = new Map<string, DeliveryReportSignal['report']>();
    const seenIntermediate = new Set<string>();
    const belongsToAttempt = (signal: DeliveryReportSignal): boolean =>
      signal.providerId === candidate.providerId &&
      (providerMessageIds.length === 0 || providerMessageIds.includes(signal.report.providerMessageId));

    const deadline = Date.now() + candidate.dlrTimeoutSeconds * 1000;
    for (;;) {
      const pending = reports.splice(0);
      for (const signal of pending) {
        if (!belongsToAttempt(signal)) continue;
        const { report } = signal;
        if (isFinalReportStatus(report.status)) {
          if (!finalByPart.has(report.providerMessageId)) finalByPart.set(report.providerMessageId, report);
        } else if (!finalByPart.has(report.providerMessageId) && !seenIntermediate.has(`${report.providerMessageId}:${report.status}`)) {
          seenIntermediate.add(`${report.providerMessageId}:${report.status}`);
          await record({
            status: report.status,
            providerId: candidate.providerId,
            providerMessageId: report.providerMessageId,
            reason: report.providerStatus,
          });
        }
      }
      if (finalByPart.size >= partCount) return combineParts(candidate.providerId, [...finalByPart.values()]);
      const remaining = deadline - Date.now();
      if (remaining <= 0 || !(await condition(() => reports.length > 0, remaining))) {
        return {
          status: 'unknown',
          providerId: candidate.providerId,
          providerMessageId: providerMessageIds[0],
          errorCode: 'dlr_timeout',
          reason: `no final delivery report within ${candidate.dlrTimeoutSeconds}s`,
        };
      }
    }
  }
}

/** A multi-part message is delivered only when every part is; otherwise the first part that was not decides. */
function combineParts(providerId: string, finals: readonly DeliveryReportSignal['report'][]): MessageOutcome {
  const decisive = finals.find((report) => report.status !== 'delivered') ?? finals[0];
  const status: DeliveryReportStatus = decisive?.status ?? 'unknown';
  return {
    status,
    providerId,
    providerMessageId: decisive?.providerMessageId,
    errorCode: decisive?.errorCode,
    reason: decisive?.errorReason ?? decisive?.providerStatus,
  };
}

/**
 * One provider's attempt at the message. Retries live here rather than in the activity's retry
 * policy: a timed-out activity (a worker that died mid-request) may have reached the provider, and
 * only the workflow can decide not to send it again.
 */
async function submitTo(
  candidate: RouteCandidate,
  request: MessageRequest,
  onTransientFailure: (errorCode: string, reason: string, retryInMs: number) => Promise<void>,
): Promise<AttemptResult> {
  const submitToProvider = submitActivityFor(candidate.providerId);
  for (let attempt = 1; ; attempt += 1) {
    try {
      const { providerMessageIds } = await submitToProvider({
        providerId: candidate.providerId,
        sms: { messageId: request.messageId, to: request.to, from: request.from, body: request.body, encoding: request.encoding },
      });
      return { kind: 'submitted', providerMessageIds };
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      const cause = error.cause;
      if (cause instanceof TimeoutFailure) {
        return { kind: 'ambiguous', reason: 'no answer from the dispatch worker in time; the request may have reached the provider' };
      }
      if (!(cause instanceof ApplicationFailure)) throw error;
      const [errorCode = cause.type ?? 'submit_failed', retryAfterMs] = (cause.details ?? []) as [string?, number?];
      if (cause.type === SUBMIT_FAILURE.ambiguous) return { kind: 'ambiguous', reason: cause.message };
      if (cause.type === SUBMIT_FAILURE.transient && attempt < SUBMIT_ATTEMPTS_PER_PROVIDER) {
        const delay = retryAfterMs ?? Math.min(RETRY_INITIAL_MS * 2 ** (attempt - 1), RETRY_MAX_MS);
        await onTransientFailure(errorCode, cause.message, delay);
        await sleep(delay);
        continue;
      }
      return { kind: 'failed', errorCode, reason: cause.message };
    }
  }
}
