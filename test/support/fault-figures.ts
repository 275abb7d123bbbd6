/**
 * What a fault test measures, on a ProcessStack: each message's final status in PostgreSQL against
 * what the provider simulator received, printed as the same figures by every scenario.
 */
import assert from 'node:assert/strict';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { FINAL_STATUSES, type MessageStatus } from '../../src/domain/status';
import type { ReceivedSubmit } from '../../src/simulator/server';
import type { ProcessStack } from './process-stack';
import { eventually } from './stack';

export interface Recipient {
  readonly to: string;
  readonly clientRef?: string;
}

export interface BatchAnswer {
  readonly statusCode: number;
  readonly retryAfter: string | undefined;
  readonly ids: Map<string, string>;
}

/** One batch request; resolves with the API's answer or the transport error. */
export async function postBatch(stack: ProcessStack, recipients: readonly Recipient[]): Promise<BatchAnswer | Error> {
  try {
    const response = await request(`${stack.apiUrl}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ recipients, from: 'Acme', body: 'fault test' }),
    });
    const answer = (await response.body.json()) as { messages?: { id: string; to: string }[] };
    const retryAfter = response.headers['retry-after'];
    return {
      statusCode: response.statusCode,
      retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
      ids: new Map((answer.messages ?? []).map((message) => [message.to, message.id])),
    };
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

export function numbers(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `+${prefix}${String(100_000 + index)}`);
}

/** The submits of `ids` that reached the simulator, whatever it answered. */
export async function receivedFor(stack: ProcessStack, ids: readonly string[]): Promise<ReceivedSubmit[]> {
  const response = await request(`${stack.simulatorUrl}/_control/received`);
  const wanted = new Set(ids);
  return ((await response.body.json()) as ReceivedSubmit[]).filter((entry) => wanted.has(entry.submit.reference ?? ''));
}

export async function finalCount(stack: ProcessStack, ids: readonly string[]): Promise<number> {
  return stack.db.message.count({ where: { id: { in: [...ids] }, status: { in: [...FINAL_STATUSES] } } });
}

/** Waits until every message is final (or `boundMs` passes); resolves with the seconds since `since`. */
export async function settle(stack: ProcessStack, ids: readonly string[], since: number, boundMs: number): Promise<number> {
  await eventually(async () => ((await finalCount(stack, ids)) === ids.length ? true : undefined), boundMs, 'every message final').catch(() => undefined);
  return (Date.now() - since) / 1000;
}

export interface Figures {
  readonly offered: number;
  readonly byStatus: Record<string, number>;
  readonly lost: number;
  readonly submittedTwice: number;
  readonly acceptedNeverSubmitted: number;
  readonly unknownNeverReceived: number;
  /**
   * Ended `unknown` (ambiguous_submit) without reaching the provider: the worker died after its
   * about-to-send mark was written and before the request left. No mark can tell that apart from a
   * request that did leave, so at-most-once keeps it from being sent again: maybe-sent is never resent.
   */
  readonly markedButUnsent: number;
  /** Accepted submits of each provider. */
  readonly byProvider: Record<string, number>;
}

/** What happened to `ids`: their final statuses in PostgreSQL against what the provider received. */
export async function figures(stack: ProcessStack, ids: readonly string[]): Promise<Figures> {
  const rows = await stack.db.message.findMany({ where: { id: { in: [...ids] } }, select: { id: true, status: true, errorCode: true } });
  const statusOf = new Map<string, MessageStatus>(rows.map((row) => [row.id, row.status]));
  const ambiguous = new Set(rows.filter((row) => row.status === 'unknown' && row.errorCode === 'ambiguous_submit').map((row) => row.id));
  const takenBy = new Map<string, number>();
  const reached = new Set<string>();
  const byProvider: Record<string, number> = {};
  for (const entry of await receivedFor(stack, ids)) {
    const id = entry.submit.reference ?? '';
    reached.add(id);
    if (entry.outcome === 'accepted' || entry.outcome === 'dropped') {
      takenBy.set(id, (takenBy.get(id) ?? 0) + 1);
      byProvider[entry.provider] = (byProvider[entry.provider] ?? 0) + 1;
    }
  }
  const byStatus: Record<string, number> = {};
  for (const id of ids) {
    const status = statusOf.get(id) ?? 'no row';
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }
  const markedButUnsent = new Set(ids.filter((id) => ambiguous.has(id) && !reached.has(id)));
  return {
    offered: ids.length,
    byStatus,
    lost: ids.filter((id) => !FINAL_STATUSES.has(statusOf.get(id) ?? 'accepted')).length,
    submittedTwice: ids.filter((id) => (takenBy.get(id) ?? 0) > 1).length,
    acceptedNeverSubmitted: ids.filter((id) => !takenBy.has(id) && !markedButUnsent.has(id)).length,
    unknownNeverReceived: ids.filter((id) => statusOf.get(id) === 'unknown' && !reached.has(id) && !markedButUnsent.has(id)).length,
    markedButUnsent: markedButUnsent.size,
    byProvider,
  };
}

export function report(scenario: string, result: Figures, recoverSeconds: number, extra = ''): void {
  console.log(
    `${scenario}: offered ${result.offered}; final by status ${JSON.stringify(result.byStatus)}; lost ${result.lost}; ` +
      `submitted twice ${result.submittedTwice}; accepted but never submitted ${result.acceptedNeverSubmitted}; ` +
      `unknown never received ${result.unknownNeverReceived} (+ ${result.markedButUnsent} marked about-to-send when the worker died); time to recover ${recoverSeconds.toFixed(1)} s${extra ? `; ${extra}` : ''}`,
  );
}

/** A worker that dies has at most its provider's window of requests between mark and send. */
const PROVIDER_WINDOW = 100;

export function assertNothingLost(result: Figures, workerKilled = false): void {
  assert.equal(result.lost, 0, 'every message final');
  assert.equal(result.submittedTwice, 0, 'none submitted twice');
  assert.equal(result.unknownNeverReceived, 0, 'no unknown message the provider never received, but for a worker dying between mark and send');
  assert.equal(result.acceptedNeverSubmitted, 0, 'every message submitted');
  // Only a worker that dies can leave a marked request unsent; nothing else may.
  assert.ok(result.markedButUnsent <= (workerKilled ? PROVIDER_WINDOW : 0), `marked but unsent: ${result.markedButUnsent}`);
  assert.equal(result.byStatus.delivered, result.offered - result.markedButUnsent, 'every other message delivered');
}
