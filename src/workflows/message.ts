import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { DispatchActivities, RouterActivities } from '../activities';
import { providerTaskQueue, ROUTER_TASK_QUEUE, SUBMIT_FAILURE, submitStartToCloseMs, type SubmitAttemptRef } from '../domain/dispatch';
import {
  DEFAULT_CALLBACK_IDLE_SECONDS,
  DEFAULT_SUBMIT_POLICY,
  DUPLICATE_MESSAGE_FAILURE,
  type CancelResult,
  type ClientNotification,
  type DeliveryReportSignal,
  type MessageOutcome,
  type MessageRequest,
  type RouteCandidate,
  type StatusChange,
  type SubmitPolicy,
} from '../domain/message';
import { OPTED_OUT_ERROR_CODE } from '../domain/opt-out';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { isFinalReportStatus, isFinalStatus, type DeliveryReportStatus, type MessageStatus } from '../domain/status';
import type { DeliveryReport } from '../providers/types';
import { clientCallbacksWorkflow, clientCallbacksWorkflowId, clientNotificationSignal } from './client-callbacks';
import { StatusJournal, type MessageState } from './journal';

export type { MessageState } from './journal';

export const deliveryReportSignal = defineSignal<[DeliveryReportSignal]>('deliveryReport');
/** An update rather than a signal: the caller learns whether the cancel came in time. */
export const cancelUpdate = defineUpdate<CancelResult>('cancel');
export const statusQuery = defineQuery<MessageState>('status');

// Database writes and route look-ups are short and local to the router: local activities keep them
// out of the task queues and cost one marker event each instead of three events.
const { recordStatus, routeMessage, fenceSubmitAttempt, keepDeliveryReports } = proxyLocalActivities<RouterActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

function submitActivityFor(providerId: string, submit: SubmitPolicy, queueWaitMs: number): DispatchActivities['submitToProvider'] {
  return proxyActivities<DispatchActivities>({
    taskQueue: providerTaskQueue(providerId),
    // Waiting in the provider's rate-limited queue is bounded: a queue nobody polls any more (the
    // provider was disabled) must not hold the message, and a submit never picked up was not sent.
    scheduleToStartTimeout: queueWaitMs,
    // One HTTP request and a little slack; the activity gives up on the request before this.
    startToCloseTimeout: submitStartToCloseMs(submit.timeoutSeconds),
    // Never retried by the server: a retry after a timeout could send the SMS twice. See submitOnce.
    retry: { maximumAttempts: 1 },
    // A cancel takes back a submit still queued; one a worker has runs to its end, and the workflow
    // waits for that end (the SDK's effective default would drop it and report it cancelled).
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  }).submitToProvider;
}

type AttemptResult =
  /** `recorded`: the submit activity wrote the `submitted` change itself (SubmitInput.submitted). */
  | { readonly kind: 'submitted'; readonly providerMessageIds: readonly string[]; readonly recorded?: StatusChange }
  | { readonly kind: 'ambiguous'; readonly reason: string }
  | { readonly kind: 'failed'; readonly errorCode: string; readonly reason: string }
  | { readonly kind: 'stopped' };

/** One submit's outcome: an attempt result, or a transient failure worth another try on this provider. */
type SubmitOutcome = AttemptResult | { readonly kind: 'transient'; readonly errorCode: string; readonly reason: string; readonly retryAfterMs?: number };

/** Where the message stands, for the cancel update: only a message not yet at a provider can be cancelled. */
type Phase = 'waiting' | 'submitting' | 'submitted' | 'final';

/** The submit activity in flight: a cancel may still take it back while it waits in its provider's queue. */
interface SubmitInFlight {
  readonly scope: CancellationScope;
  /** Settles once the workflow has read the submit's outcome. */
  readonly settled: Promise<void>;
}

/**
 * One SMS, from acceptance to its final status:
 * accepted → (scheduled) → routed → submitted → (enroute, buffered) → delivered | undelivered | rejected |
 * expired | unknown, moving to the next route candidate when a provider cannot take the message, and
 * cancelled or expired while it has not reached a provider.
 */
export async function messageWorkflow(request: MessageRequest): Promise<MessageOutcome> {
  // Reports may arrive before the submit activity returns: buffer every one from the first moment.
  const reports: DeliveryReportSignal[] = [];
  /** Reports that name another attempt than the one awaited; kept when the message ends. */
  const unapplied: DeliveryReportSignal[] = [];
  /** Parts with a final report applied (`provider/part id`): later news about them is ignored. */
  const settledParts = new Set<string>();
  let phase: Phase = 'waiting';
  let cancelRequested = false;
  let submitAttempts = 0;
  let submitInFlight: SubmitInFlight | undefined;
  let callbacks: ChildWorkflowHandle<typeof clientCallbacksWorkflow> | undefined;
  // Inputs accepted before a figure was part of the policy lack it.
  const submit: SubmitPolicy = { ...DEFAULT_SUBMIT_POLICY, ...request.policy.submit };
  const journal = new StatusJournal(request, async (changes) => {
    await recordStatus(changes);
    await announce(changes);
  });

  setHandler(deliveryReportSignal, (signal) => {
    reports.push(signal);
  });
  setHandler(statusQuery, () => journal.state);
  setHandler(cancelUpdate, async (): Promise<CancelResult> => {
    if (phase === 'waiting') {
      cancelRequested = true;
      return { cancelled: true, status: 'cancelled' };
    }
    const submit = submitInFlight;
    if (phase === 'submitting' && submit) {
      // Still in the provider's queue, the submit is cancelled by the server and was never sent;
      // once a worker has it, it runs to its end and the cancel comes too late.
      submit.scope.cancel();
      await submit.settled;
      if (cancelRequested) return { cancelled: true, status: 'cancelled' };
    }
    return { cancelled: false, status: journal.state.status };
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

  try {
    return await deliver();
  } catch (error) {
    const duplicate = duplicateOf(error);
    if (!duplicate) throw error;
    // The id's Message row belongs to an earlier workflow Temporal no longer remembers: that one
    // was the message. Nothing is written or sent here.
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: duplicate }]);
    return { status: duplicate, errorCode: 'duplicate_message', reason: `message ${request.messageId} already existed; this workflow sent nothing` };
  }

  async function deliver(): Promise<MessageOutcome> {
    journal.queue({ status: 'accepted', message: request, runId: workflowInfo().firstExecutionRunId });

    // The route chosen at acceptance stands for the first attempt, unless the message waited: the
    // table may have changed since.
    let routeAtAcceptance = request.route;
    const sendAt = request.sendAt ? Date.parse(request.sendAt) : 0;
    if (sendAt > Date.now()) {
      routeAtAcceptance = undefined;
      await journal.flush({ status: 'scheduled', reason: `to be sent at ${request.sendAt}` });
      await waitUnlessStopped(sendAt - Date.now());
    }

    const tried: string[] = [];
    let resends = 0;
    let lastFailure: MessageOutcome = { status: 'failed', errorCode: 'no_route', reason: `no route to ${request.to}` };
    for (;;) {
      if (stopRequested()) return finish(stoppedOutcome());
      const candidate = routeAtAcceptance ? queueRouted(routeAtAcceptance) : await route(tried);
      routeAtAcceptance = undefined;
      if (candidate === 'suppressed') return finish({ status: 'rejected', errorCode: OPTED_OUT_ERROR_CODE, reason: 'the recipient opted out of messages from this account' });
      if (!candidate) return finish(lastFailure);
      tried.push(candidate.providerId);
      const providerId = candidate.providerId;

      const attempt = await attemptDelivery(candidate);
      if (attempt.kind === 'stopped') return finish(stoppedOutcome());
      if (attempt.kind === 'failed' && attempt.errorCode === OPTED_OUT_ERROR_CODE) {
        // The provider enforces the recipient's STOP: no other route may send it either.
        return finish({ status: 'rejected', providerId, errorCode: OPTED_OUT_ERROR_CODE, reason: attempt.reason });
      }
      if (attempt.kind === 'failed') {
        lastFailure = { status: 'failed', providerId, errorCode: attempt.errorCode, reason: attempt.reason };
        journal.queue({ status: 'attempt_failed', providerId, errorCode: attempt.errorCode, reason: attempt.reason });
        continue;
      }
      if (attempt.kind === 'ambiguous') {
        // At-most-once: the provider may have the message, so it is never resent. Only a delivery
        // report naming our reference can still tell what became of it.
        const ambiguous: MessageOutcome = { status: 'unknown', providerId, errorCode: 'ambiguous_submit', reason: attempt.reason };
        await journal.flush(ambiguous);
        const outcome = await awaitFinalReport(candidate, [], 'cancelled');
        if (outcome.errorCode !== 'dlr_timeout') return finish(outcome);
        phase = 'final';
        await keepUnreadReports();
        return ambiguous;
      }

      const submitted = { status: 'submitted', providerId, providerMessageId: attempt.providerMessageIds[0] } as const;
      if (attempt.recorded) await announce([journal.stamp(submitted, attempt.recorded)]);
      else await journal.flush(submitted);
      // Histories from before the submit activity recorded `submitted` cancelled their report timer.
      const outcome = await awaitFinalReport(candidate, attempt.providerMessageIds, attempt.recorded ? 'left-running' : 'cancelled');
      if (outcome.status === 'undelivered' && outcome.retryableOnOtherRoute && resends < request.policy.maxResends) {
        resends += 1;
        phase = 'waiting';
        lastFailure = { status: 'undelivered', providerId, errorCode: outcome.errorCode, reason: outcome.reason };
        journal.queue({
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
  }

  /**
   * Picks the provider for the next attempt (again before each attempt: a provider disabled
   * meanwhile is not used) and records it as routed, with the changes queued before it.
   */
  async function route(tried: readonly string[]): Promise<RouteCandidate | 'suppressed' | undefined> {
    const before = journal.takeQueued();
    const routed = journal.next();
    const candidate = await routeMessage({
      query: { to: request.to, accountId: request.accountId, from: request.from, excludeProviders: tried },
      before,
      routed,
      ...(request.keywordReply ? { keywordReply: request.keywordReply } : {}),
    });
    if (!candidate || 'suppressed' in candidate) {
      await announce(before);
      return candidate ? 'suppressed' : undefined;
    }
    await announce([...before, journal.stamp({ status: 'routed', providerId: candidate.providerId }, routed)]);
    return candidate;
  }

  /** The route that came with the message, queued as `routed` for the submit to record (SubmitInput.unrecorded). */
  function queueRouted(candidate: RouteCandidate): RouteCandidate {
    journal.queue({ status: 'routed', providerId: candidate.providerId });
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
    callbacks ??= await startCallbacks(request.callbackUrl);
    try {
      await callbacks.signal(clientNotificationSignal, notification);
    } catch (error) {
      if (!(error instanceof ApplicationFailure)) throw error;
      // The callbacks workflow ends a while after a final status; news after it (a delivery report
      // after `unknown`) starts it again rather than failing the message.
      callbacks = await startCallbacks(request.callbackUrl);
      await callbacks.signal(clientNotificationSignal, notification);
    }
  }

  function startCallbacks(callbackUrl: string): Promise<ChildWorkflowHandle<typeof clientCallbacksWorkflow>> {
    return startChild(clientCallbacksWorkflow, {
      workflowId: clientCallbacksWorkflowId(request.messageId),
      taskQueue: ROUTER_TASK_QUEUE,
      args: [
        {
          messageId: request.messageId,
          accountId: request.accountId,
          callbackUrl,
          retrySeconds: request.policy.callbackRetrySeconds,
          idleSeconds: request.policy.callbackIdleSeconds ?? DEFAULT_CALLBACK_IDLE_SECONDS,
        },
      ],
      // The message is done when its status is final; the client may still be hearing about it.
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  }

  async function finish(outcome: MessageOutcome): Promise<MessageOutcome> {
    phase = 'final';
    await journal.flush(outcome);
    await keepUnreadReports();
    return outcome;
  }

  /**
   * Reports signalled but not applied (they came while the final status was written, or name an
   * earlier attempt) were acknowledged to their provider: they are stored for the reconciler, never
   * dropped. News about a part whose final report was applied is ignored, as it is while running. Checked after the last await: a signal arriving later makes the server refuse the
   * workflow's completion, and the workflow sees it here on its next task.
   */
  async function keepUnreadReports(): Promise<void> {
    for (;;) {
      const unread = [...unapplied.splice(0), ...reports.splice(0)].filter((signal) => !settledParts.has(partKey(signal)));
      if (unread.length === 0) return;
      await keepDeliveryReports({ messageId: request.messageId, reports: unread });
    }
  }

  function stoppedOutcome(): MessageOutcome {
    return cancelRequested
      ? { status: 'cancelled', reason: 'cancelled by the client before submit' }
      : { status: 'expired', errorCode: 'validity_expired', reason: 'validity period ended before the message was submitted' };
  }

  /** One provider's go at the message, including the resends its delivery guarantee allows. */
  async function attemptDelivery(candidate: RouteCandidate): Promise<AttemptResult> {
    const providerId = candidate.providerId;
    const recordRetry = (errorCode: string, reason: string, retryInMs: number) =>
      journal.flush({ status: 'attempt_failed', providerId, errorCode, reason: `${reason}; retrying in ${retryInMs} ms` });
    let attempt = await submitTo(candidate, recordRetry);
    for (let resend = 1; attempt.kind === 'ambiguous' && candidate.deliveryGuarantee === 'at_least_once' && resend <= submit.maxAmbiguousResends; resend += 1) {
      await journal.flush({
        status: 'attempt_failed',
        providerId,
        errorCode: 'ambiguous_submit',
        reason: `${attempt.reason}; resending (at-least-once, resend ${resend} of ${submit.maxAmbiguousResends})`,
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
   *
   * `left-running`: one timer bounds the whole wait and is not cancelled when the last report comes
   * (a message that ends takes its timers along unrecorded, where a cancel is a history event); it
   * is cancelled only when the message may go on to another route. `cancelled`: each wait has its
   * own timer, cancelled when a report comes, as histories recorded before this replay.
   */
  async function awaitFinalReport(
    candidate: RouteCandidate,
    providerMessageIds: readonly string[],
    timer: 'left-running' | 'cancelled',
  ): Promise<MessageOutcome & { retryableOnOtherRoute?: boolean }> {
    const partCount = Math.max(1, providerMessageIds.length);
    const finalByPart = new Map<string, DeliveryReport>();
    const seenIntermediate = new Set<string>();
    const belongsToAttempt = (signal: DeliveryReportSignal): boolean =>
      signal.providerId === candidate.providerId &&
      (providerMessageIds.length === 0 || providerMessageIds.includes(signal.report.providerMessageId));

    const deadline = Date.now() + candidate.dlrTimeoutSeconds * 1000;
    let deadlineTimer: CancellationScope | undefined;
    let deadlinePassed = false;
    /** Waits for a report; false when the deadline came first. */
    const reportArrives = async (remaining: number): Promise<boolean> => {
      if (timer === 'cancelled') return condition(() => reports.length > 0, remaining);
      if (!deadlineTimer) {
        const scope = new CancellationScope();
        deadlineTimer = scope;
        // Cancelled (the message goes on) or run out: either way the wait below is over.
        void scope.run(() => sleep(remaining)).then(
          () => (deadlinePassed = true),
          () => undefined,
        );
      }
      await condition(() => reports.length > 0 || deadlinePassed);
      return reports.length > 0;
    };
    for (;;) {
      for (const signal of reports.splice(0)) {
        if (!belongsToAttempt(signal)) {
          unapplied.push(signal);
          continue;
        }
        const { report } = signal;
        if (finalByPart.has(report.providerMessageId)) continue; // a duplicate, or late news after the final
        if (isFinalReportStatus(report.status)) {
          finalByPart.set(report.providerMessageId, report);
          settledParts.add(partKey(signal));
        } else if (!seenIntermediate.has(`${report.providerMessageId}:${report.status}`)) {
          seenIntermediate.add(`${report.providerMessageId}:${report.status}`);
          await journal.flush({
            status: report.status,
            providerId: candidate.providerId,
            providerMessageId: report.providerMessageId,
            reason: report.providerStatus,
          });
        }
      }
      if (finalByPart.size >= partCount) {
        const outcome = combineParts(candidate.providerId, [...finalByPart.values()]);
        if (outcome.retryableOnOtherRoute) deadlineTimer?.cancel();
        return outcome;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || !(await reportArrives(remaining))) {
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
    for (let attempt = 1; ; attempt += 1) {
      // Checked and left behind in one step: a cancel answered `cancelled` (while the route was
      // looked up, say) finds the message before any submit.
      if (stopRequested()) return { kind: 'stopped' };
      phase = 'submitting';
      const outcome = await submitOnce(candidate);
      if (outcome.kind !== 'transient') return outcome;
      if (attempt >= submit.attemptsPerProvider) return { kind: 'failed', errorCode: outcome.errorCode, reason: outcome.reason };
      const delay = outcome.retryAfterMs ?? Math.min(submit.retryInitialSeconds * 1000 * 2 ** (attempt - 1), submit.retryMaxSeconds * 1000);
      phase = 'waiting';
      await onTransientFailure(outcome.errorCode, outcome.reason, delay);
      if (await waitUnlessStopped(delay)) return { kind: 'stopped' };
    }
  }

  /** One submit activity, its failure read as: not sent (retry or fail over), or maybe sent (ambiguous). */
  async function submitOnce(candidate: RouteCandidate): Promise<SubmitOutcome> {
    submitAttempts += 1;
    const ref: SubmitAttemptRef = { messageId: request.messageId, attempt: submitAttempts };
    const remainingValidityMs = validUntil - Date.now();
    const queueWaitMs = Math.max(1_000, Math.min(submit.queueTimeoutSeconds * 1000, remainingValidityMs));
    const submitToProvider = submitActivityFor(candidate.providerId, submit, queueWaitMs);
    // Changes still unwritten (a route that came with the message) are recorded by the activity
    // before it sends, and `submitted` at the next position once the provider took it. Histories
    // from before it did replay as they were: their results carry no `submitted`.
    let unrecorded = journal.takeQueued();
    const position = journal.next();
    const scope = new CancellationScope();
    let settle = () => {};
    submitInFlight = { scope, settled: new Promise<void>((resolve) => (settle = resolve)) };
    try {
      const { providerMessageIds, submitted } = await scope.run(() => submitToProvider({
        providerId: candidate.providerId,
        sms: {
          messageId: request.messageId,
          to: request.to,
          from: request.from,
          body: request.body,
          encoding: request.encoding,
          validitySeconds: Number.isFinite(remainingValidityMs) ? Math.floor(remainingValidityMs / 1000) : undefined,
        },
        attempt: ref.attempt,
        submitted: { sequence: position.sequence, country: position.country },
        ...(unrecorded.length > 0 ? { unrecorded } : {}),
      }));
      // Sent, so recorded first.
      await announce(unrecorded);
      unrecorded = [];
      return { kind: 'submitted', providerMessageIds, recorded: submitted };
    } catch (error) {
      if (isCancellation(error)) {
        // The cancel update took the submit back from the queue: it never reached a worker.
        cancelRequested = true;
        return { kind: 'stopped' };
      }
      if (!(error instanceof ActivityFailure)) throw error;
      const cause = error.cause;
      if (cause instanceof ApplicationFailure && cause.type === DUPLICATE_MESSAGE_FAILURE) throw error;
      if (cause instanceof TimeoutFailure && cause.timeoutType === 'SCHEDULE_TO_START') {
        return { kind: 'failed', errorCode: 'queue_timeout', reason: `no dispatch worker took the submit within ${Math.round(queueWaitMs / 1000)}s; not sent` };
      }
      if (cause instanceof ApplicationFailure && cause.type === SUBMIT_FAILURE.ambiguous) return { kind: 'ambiguous', reason: cause.message };
      if (cause instanceof ApplicationFailure && (cause.type === SUBMIT_FAILURE.transient || cause.type === SUBMIT_FAILURE.permanent)) {
        const [errorCode = cause.type, retryAfterMs] = (cause.details ?? []) as [string?, (number | null)?];
        return cause.type === SUBMIT_FAILURE.transient
          ? { kind: 'transient', errorCode, reason: cause.message, retryAfterMs: retryAfterMs ?? undefined }
          : { kind: 'failed', errorCode, reason: cause.message };
      }
      // Timed out (the worker died or lost the task) or failed in a way the activity did not
      // classify: only the about-to-send mark can tell whether the request may have left.
      const what = cause?.message ?? error.message;
      if (unrecorded.length > 0) {
        // The fence claims the attempt on the Message row, which the activity may never have made.
        await recordStatus(unrecorded);
        await announce(unrecorded);
        unrecorded = [];
      }
      if (await fenceSubmitAttempt(ref)) {
        return { kind: 'transient', errorCode: 'submit_not_sent', reason: `${what}; the request never left the worker` };
      }
      // The activity may have recorded `submitted` before it was lost.
      journal.skip(position);
      return { kind: 'ambiguous', reason: `${what}; the request may have reached the provider` };
    } finally {
      // Not known to be written: they go with the next write, where a repeat is stored once.
      journal.restore(unrecorded);
      submitInFlight = undefined;
      settle();
    }
  }
}

function partKey(signal: DeliveryReportSignal): string {
  return `${signal.providerId}/${signal.report.providerMessageId}`;
}

/** The status the message already has when a status write found its row owned by another run. */
function duplicateOf(error: unknown): MessageStatus | undefined {
  // A local activity's failure may reach the workflow wrapped in an ActivityFailure or as itself.
  const failure = error instanceof ActivityFailure ? error.cause : error;
  if (!(failure instanceof ApplicationFailure) || failure.type !== DUPLICATE_MESSAGE_FAILURE) return undefined;
  const [status] = (failure.details ?? []) as [MessageStatus?];
  return status ?? 'accepted';
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
