import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  TimeoutFailure,
  upsertSearchAttributes,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { DispatchActivities, RouterActivities } from '../activities';
import { providerTaskQueue, ROUTER_TASK_QUEUE, SUBMIT_FAILURE } from '../domain/dispatch';
import type {
  CancelResult,
  ClientNotification,
  DeliveryReportSignal,
  MessageOutcome,
  MessageRequest,
  RouteCandidate,
  StatusChange,
} from '../domain/message';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { isFinalReportStatus, isFinalStatus, type DeliveryReportStatus, type MessageStatus } from '../domain/status';
import type { DeliveryReport } from '../providers/types';
import { clientCallbacksWorkflow, clientCallbacksWorkflowId, clientNotificationSignal } from './client-callbacks';

export const deliveryReportSignal = defineSignal<[DeliveryReportSignal]>('deliveryReport');
/** An update rather than a signal: the caller learns whether the cancel came in time. */
export const cancelUpdate = defineUpdate<CancelResult>('cancel');

export interface MessageState {
  readonly status: MessageStatus;
  readonly providerId?: string;
  readonly providerMessageId?: string;
}
export const statusQuery = defineQuery<MessageState>('status');

// Database writes and route look-ups are short and local to the router: local activities keep them
// out of the task queues and cost one marker event each instead of three events.
const { recordStatus, routeMessage } = proxyLocalActivities<RouterActivities>({
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
  | { readonly kind: 'failed'; readonly errorCode: string; readonly reason: string }
  | { readonly kind: 'stopped' };

/** Where the message stands, for the cancel update: only a message not yet at a provider can be cancelled. */
type Phase = 'waiting' | 'submitting' | 'submitted' | 'final';

/**
 * One SMS, from acceptance to its final status:
 * accepted → (scheduled) → routed → submitted → (enroute, buffered) → delivered | undelivered | rejected |
 * expired | unknown, moving to the next route candidate when a provider cannot take the message, and
 * cancelled or expired while it has not reached a provider.
 */
export async function messageWorkflow(request: MessageRequest): Promise<MessageOutcome> {
  // Reports may arrive before the submit activity returns: buffer every one from the first moment.
  const reports: DeliveryReportSignal[] = [];
  let state: MessageState = { status: 'accepted' };
  let phase: Phase = 'waiting';
  let cancelRequested = false;
  let sequence = 0;
  let callbacks: ChildWorkflowHandle<typeof clientCallbacksWorkflow> | undefined;

  setHandler(deliveryReportSignal, (signal) => {
    reports.push(signal);
  });
  setHandler(statusQuery, () => state);
  setHandler(cancelUpdate, (): CancelResult => {
    if (phase !== 'waiting') return { cancelled: false, status: state.status };
    cancelRequested = true;
    return { cancelled: true, status: 'cancelled' };
  });

  const validUntil = request.validUntil ? Date.parse(request.validUntil) : Number.POSITIVE_INFINITY;
  const stopRequested = () => cancelRequested || Date.now() >= validUntil;
  /**
   * Waits up to `ms` unless a cancel comes first; never past the validity deadline (a condition is
   * only re-checked when something happens, so the passing of time itself needs the timeout).
   * Returns true when the message must stop.
   */
  async function waitUnlessStopped(ms: number): Promise<boolean> {
    await condition(() => cancelRequested, Math.max(0, Math.min(ms, validUntil - Date.now())));
    return stopRequested();
  }

  type ChangeInput = Omit<StatusChange, 'messageId' | 'sequence' | 'occurredAt' | 'country'>;
  /** Changes that happened but wait for the next write: nothing needs them in the database sooner. */
  const unwritten: StatusChange[] = [];

  function stamp(change: ChangeInput, at = sequence + 1): StatusChange {
    sequence = at;
    state = { status: change.status, providerId: change.providerId, providerMessageId: change.providerMessageId };
    return { ...change, messageId: request.messageId, sequence, country: request.country, occurredAt: new Date().toISOString() };
  }

  /** Writes a change now, with any that were waiting. */
  async function record(change: ChangeInput): Promise<void> {
    const changes = [...unwritten.splice(0), stamp(change)];
    await recordStatus(changes);
    await announce(changes);
  }

  function recordWithNextWrite(change: ChangeInput): void {
    unwritten.push(stamp(change));
  }

  /**
   * Picks the provider for the next attempt (again before each attempt: a provider disabled
   * meanwhile is not used) and records it as routed, with the changes waiting to be written.
   */
  async function route(tried: readonly string[]): Promise<RouteCandidate | 'suppressed' | undefined> {
    const before = unwritten.splice(0);
    const routed = { messageId: request.messageId, sequence: sequence + 1, occurredAt: new Date().toISOString(), country: request.country };
    const candidate = await routeMessage({
      query: { to: request.to, accountId: request.accountId, from: request.from, excludeProviders: tried },
      before,
      routed,
    });
    if (!candidate || 'suppressed' in candidate) {
      await announce(before);
      return candidate ? 'suppressed' : undefined;
    }
    const routedChange = stamp({ status: 'routed', providerId: candidate.providerId }, routed.sequence);
    await announce([...before, { ...routedChange, occurredAt: routed.occurredAt }]);
    return candidate;
  }

  /** Tells the outside world about recorded changes: the Temporal UI's search attributes, the client. */
  async function announce(changes: readonly StatusChange[]): Promise<void> {
    const final = changes.find((change) => isFinalStatus(change.status));
    if (final) {
      upsertSearchAttributes([
        { key: SEARCH_ATTRIBUTES.status, value: final.status },
        ...(final.providerId ? [{ key: SEARCH_ATTRIBUTES.provider, value: final.providerId }] : []),
      ]);
    }
    for (const change of changes) {
      await notifyClient({
        id: request.messageId,
        clientRef: request.clientRef,
        sequence: change.sequence,
        status: change.status,
        providerId: change.providerId,
        errorCode: change.errorCode,
        reason: change.reason,
        occurredAt: change.occurredAt,
      });
    }
  }

  async function notifyClient(notification: ClientNotification): Promise<void> {
    if (!request.callbackUrl) return;
    callbacks ??= await startChild(clientCallbacksWorkflow, {
      workflowId: clientCallbacksWorkflowId(request.messageId),
      taskQueue: ROUTER_TASK_QUEUE,
      args: [{ messageId: request.messageId, accountId: request.accountId, callbackUrl: request.callbackUrl, retrySeconds: request.policy.callbackRetrySeconds }],
      // The message is done when its status is final; the client may still be hearing about it.
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    await callbacks.signal(clientNotificationSignal, notification);
  }

  async function finish(outcome: MessageOutcome): Promise<MessageOutcome> {
    phase = 'final';
    await record(outcome);
    return outcome;
  }

  function stoppedOutcome(): MessageOutcome {
    return cancelRequested
      ? { status: 'cancelled', reason: 'cancelled by the client before submit' }
      : { status: 'expired', errorCode: 'validity_expired', reason: 'validity period ended before the message was submitted' };
  }

  recordWithNextWrite({ status: 'accepted', message: request });

  const sendAt = request.sendAt ? Date.parse(request.sendAt) : 0;
  if (sendAt > Date.now()) {
    await record({ status: 'scheduled', reason: `to be sent at ${request.sendAt}` });
    await waitUnlessStopped(sendAt - Date.now());
  }

  const tried: string[] = [];
  let resends = 0;
  let lastFailure: MessageOutcome = { status: 'failed', errorCode: 'no_route', reason: `no route to ${request.to}` };
  for (;;) {
    if (stopRequested()) return finish(stoppedOutcome());
    const candidate = await route(tried);
    if (candidate === 'suppressed') return finish({ status: 'rejected', errorCode: 'opted_out', reason: 'the recipient opted out of messages from this account' });
    if (!candidate) return finish(lastFailure);
    tried.push(candidate.providerId);
    const providerId = candidate.providerId;

    const attempt = await attemptDelivery(candidate);
    if (attempt.kind === 'stopped') return finish(stoppedOutcome());
    if (attempt.kind === 'failed') {
      lastFailure = { status: 'failed', providerId, errorCode: attempt.errorCode, reason: attempt.reason };
      recordWithNextWrite({ status: 'attempt_failed', providerId, errorCode: attempt.errorCode, reason: attempt.reason });
      continue;
    }
    if (attempt.kind === 'ambiguous') {
      // At-most-once: the provider may have the message, so it is never resent. Only a delivery
      // report naming our reference can still tell what became of it.
      const ambiguous: MessageOutcome = { status: 'unknown', providerId, errorCode: 'ambiguous_submit', reason: attempt.reason };
      await record(ambiguous);
      const outcome = await awaitFinalReport(candidate, []);
      phase = 'final';
      return outcome.errorCode === 'dlr_timeout' ? ambiguous : finish(outcome);
    }

    await record({ status: 'submitted', providerId, providerMessageId: attempt.providerMessageIds[0] });
    const outcome = await awaitFinalReport(candidate, attempt.providerMessageIds);
    if (outcome.status === 'undelivered' && outcome.retryableOnOtherRoute && resends < request.policy.maxResends) {
      resends += 1;
      phase = 'waiting';
      lastFailure = { status: 'undelivered', providerId, errorCode: outcome.errorCode, reason: outcome.reason };
      recordWithNextWrite({
        status: 'attempt_failed',
        providerId,
        providerMessageId: outcome.providerMessageId,
        errorCode: outcome.errorCode,
        reason: `undelivered (${outcome.reason ?? 'no reason given'}); resending via the next route (${resends} of ${request.policy.maxResends})`,
      });
      continue;
    }
    return finish(withoutRouteHint(outcome));
  }

  /** One provider's go at the message, including the resends its delivery guarantee allows. */
  async function attemptDelivery(candidate: RouteCandidate): Promise<AttemptResult> {
    const providerId = candidate.providerId;
    const recordRetry = (errorCode: string, reason: string, retryInMs: number) =>
      record({ status: 'attempt_failed', providerId, errorCode, reason: `${reason}; retrying in ${retryInMs} ms` });
    let attempt = await submitTo(candidate, recordRetry);
    for (let resend = 1; attempt.kind === 'ambiguous' && candidate.deliveryGuarantee === 'at_least_once' && resend <= MAX_AMBIGUOUS_RESENDS; resend += 1) {
      await record({
        status: 'attempt_failed',
        providerId,
        errorCode: 'ambiguous_submit',
        reason: `${attempt.reason}; resending (at-least-once, resend ${resend} of ${MAX_AMBIGUOUS_RESENDS})`,
      });
      attempt = await submitTo(candidate, recordRetry);
    }
    phase = attempt.kind === 'failed' || attempt.kind === 'stopped' ? 'waiting' : 'submitted';
    return attempt;
  }

  /**
   * Waits until every SMS part has a final report, recording intermediate ones as they come.
   * When the submit was ambiguous there are no provider ids: any report for this provider that names
   * our message counts.
   */
  async function awaitFinalReport(
    candidate: RouteCandidate,
    providerMessageIds: readonly string[],
  ): Promise<MessageOutcome & { retryableOnOtherRoute?: boolean }> {
    const partCount = Math.max(1, providerMessageIds.length);
    const finalByPart = new Map<string, DeliveryReport>();
    const seenIntermediate = new Set<string>();
    const belongsToAttempt = (signal: DeliveryReportSignal): boolean =>
      signal.providerId === candidate.providerId &&
      (providerMessageIds.length === 0 || providerMessageIds.includes(signal.report.providerMessageId));

    const deadline = Date.now() + candidate.dlrTimeoutSeconds * 1000;
    for (;;) {
      for (const { report } of reports.splice(0).filter(belongsToAttempt)) {
        if (finalByPart.has(report.providerMessageId)) continue; // a duplicate, or late news after the final
        if (isFinalReportStatus(report.status)) {
          finalByPart.set(report.providerMessageId, report);
        } else if (!seenIntermediate.has(`${report.providerMessageId}:${report.status}`)) {
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

  /**
   * Submits to one provider, retrying transient failures. Retries live here rather than in the
   * activity's retry policy: a timed-out activity (a worker that died mid-request) may have reached
   * the provider, and only the workflow can decide not to send it again. A cancel or the end of the
   * validity period stops the retries while the message is between tries.
   */
  async function submitTo(candidate: RouteCandidate, onTransientFailure: (errorCode: string, reason: string, retryInMs: number) => Promise<void>): Promise<AttemptResult> {
    const submitToProvider = submitActivityFor(candidate.providerId);
    for (let attempt = 1; ; attempt += 1) {
      const remainingValidity = Number.isFinite(validUntil) ? Math.floor((validUntil - Date.now()) / 1000) : undefined;
      phase = 'submitting';
      try {
        const { providerMessageIds } = await submitToProvider({
          providerId: candidate.providerId,
          sms: {
            messageId: request.messageId,
            to: request.to,
            from: request.from,
            body: request.body,
            encoding: request.encoding,
            validitySeconds: remainingValidity,
          },
        });
        return { kind: 'submitted', providerMessageIds };
      } catch (error) {
        if (!(error instanceof ActivityFailure)) throw error;
        const cause = error.cause;
        if (cause instanceof TimeoutFailure) {
          return { kind: 'ambiguous', reason: 'no answer from the dispatch worker in time; the request may have reached the provider' };
        }
        if (!(cause instanceof ApplicationFailure)) throw error;
        const [errorCode = cause.type ?? 'submit_failed', retryAfterMs] = (cause.details ?? []) as [string?, (number | null)?];
        if (cause.type === SUBMIT_FAILURE.ambiguous) return { kind: 'ambiguous', reason: cause.message };
        if (cause.type !== SUBMIT_FAILURE.transient || attempt >= SUBMIT_ATTEMPTS_PER_PROVIDER) {
          return { kind: 'failed', errorCode, reason: cause.message };
        }
        const delay = retryAfterMs ?? Math.min(RETRY_INITIAL_MS * 2 ** (attempt - 1), RETRY_MAX_MS);
        phase = 'waiting';
        await onTransientFailure(errorCode, cause.message, delay);
        if (await waitUnlessStopped(delay)) return { kind: 'stopped' };
      }
    }
  }
}

/** A multi-part message is delivered only when every part is; otherwise the first part that was not decides. */
function combineParts(providerId: string, finals: readonly DeliveryReport[]): MessageOutcome & { retryableOnOtherRoute?: boolean } {
  const decisive = finals.find((report) => report.status !== 'delivered') ?? finals[0];
  const status: DeliveryReportStatus = decisive?.status ?? 'unknown';
  return {
    status,
    providerId,
    providerMessageId: decisive?.providerMessageId,
    errorCode: decisive?.errorCode,
    reason: decisive?.errorReason ?? decisive?.providerStatus,
    retryableOnOtherRoute: decisive?.retryableOnOtherRoute,
  };
}

function withoutRouteHint(outcome: MessageOutcome & { retryableOnOtherRoute?: boolean }): MessageOutcome {
  const { retryableOnOtherRoute: _hint, ...rest } = outcome;
  return rest;
}
