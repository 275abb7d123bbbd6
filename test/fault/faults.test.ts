/**
 * Faults with the router's parts as separate OS processes (API, worker, provider simulator) on a
 * Temporal dev server that keeps its state in a SQLite file, so that it can be killed and started
 * again on the same state. Each test prints its figures and asserts nothing lost, nothing
 * submitted twice, and no `unknown` message the provider never received.
 *
 * `npm run test:fault` runs the short version; `npm run chaos` runs the same code with the counts
 * from FAULT_MESSAGES and FAULT_DOWN_SECONDS.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { DEMO_API_KEY } from '../../src/dev/seed';
import { findTemporalCli } from '../../src/dev/temporal-cli';
import { startTemporalDevServer, type DevServer } from '../../src/dev/temporal-server';
import { FINAL_STATUSES, type MessageStatus } from '../../src/domain/status';
import type { ReceivedSubmit, SimulatedProviderBehaviour } from '../../src/simulator/server';
import { startProcessStack, type ProcessStack } from '../support/process-stack';
import { eventually, freePort } from '../support/stack';

/** Messages per scenario; the worker-kill scenario has them all in flight when the worker dies. */
const MESSAGES = Number(process.env.FAULT_MESSAGES ?? 300);
/** How long Temporal stays down. */
const DOWN_MS = Number(process.env.FAULT_DOWN_SECONDS ?? 5) * 1000;
const BATCH = 100;
/** Generous for this shared 2-core machine: a bound on "eventually", not a speed target. */
const SETTLE_MS = Math.max(240_000, MESSAGES * 400);
const credentials = { apiKey: 'k', dlrSecret: 'dlr-secret' };
/** Long DLR delay of the reports provider: every report comes after Temporal is stopped. */
const REPORT_DELAY_MS = Number(process.env.FAULT_REPORT_DELAY_SECONDS ?? 25) * 1000;
/** DLR delay while the API is killed and restarted: longer than its restart takes. */
const API_DOWN_REPORT_DELAY_MS = 20_000;

let stateDir: string;
let temporalPort: number;
let temporal: DevServer;
let stack: ProcessStack;

function startTemporal(): Promise<DevServer> {
  return startTemporalDevServer({ binary: findTemporalCli(), port: temporalPort, uiPort: 0, dbFile: join(stateDir, 'temporal.sqlite') });
}

/** kill -9 of the dev server: found by its state file, which no other process names. */
async function killTemporal(): Promise<void> {
  const pids = execFileSync('pgrep', ['-f', join(stateDir, 'temporal.sqlite')], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  assert.ok(pids.length > 0, 'the Temporal dev server runs');
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  await temporal.exited;
}

before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smsrouter-fault-'));
  temporalPort = await freePort();
  temporal = await startTemporal();
  stack = await startProcessStack({
    temporalAddress: temporal.address,
    providers: [
      // Latency keeps submits in flight; the DLR delay keeps submitted messages waiting for their report.
      { id: 'steady', dialect: 'generic', credentials, routes: [{ prefix: '453' }], tps: 200, window: 100, dlrTimeoutSeconds: 600, behaviour: { latencyMs: 100, dlrDelayMs: 2000 } },
      { id: 'reports', dialect: 'generic', credentials, routes: [{ prefix: '4540' }], tps: 200, window: 100, dlrTimeoutSeconds: 600, behaviour: { dlrDelayMs: REPORT_DELAY_MS } },
    ],
    env: { SUBMIT_TIMEOUT_SECONDS: '5' },
  });
});

after(async () => {
  await stack?.close();
  await temporal?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** A provider's inbound SMS callback in the generic format, proven by its secret. */
async function postInbound(provider: string, sms: Record<string, string>): Promise<number> {
  const response = await request(`${stack.apiUrl}/v1/inbound/${provider}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-dlr-secret': credentials.dlrSecret },
    body: JSON.stringify({ ...sms, receivedAt: new Date().toISOString() }),
  });
  await response.body.dump();
  return response.statusCode;
}

function numbers(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `+${prefix}${String(100_000 + index)}`);
}

interface Recipient {
  readonly to: string;
  readonly clientRef?: string;
}

/** One batch request; resolves with the API's answer or the transport error. */
async function postBatch(recipients: readonly Recipient[]): Promise<{ statusCode: number; ids: Map<string, string> } | Error> {
  try {
    const response = await request(`${stack.apiUrl}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ recipients, from: 'Acme', body: 'fault test' }),
    });
    const answer = (await response.body.json()) as { messages?: { id: string; to: string }[] };
    return { statusCode: response.statusCode, ids: new Map((answer.messages ?? []).map((message) => [message.to, message.id])) };
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

async function send(to: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < to.length; start += BATCH) {
    const answer = await postBatch(to.slice(start, start + BATCH).map((number) => ({ to: number })));
    if (answer instanceof Error) throw answer;
    assert.equal(answer.statusCode, 202);
    ids.push(...answer.ids.values());
  }
  assert.equal(ids.length, to.length);
  return ids;
}

/** The submits of `ids` that reached the simulator, whatever it answered. */
async function receivedFor(ids: readonly string[]): Promise<ReceivedSubmit[]> {
  const response = await request(`${stack.simulatorUrl}/_control/received`);
  const wanted = new Set(ids);
  return ((await response.body.json()) as ReceivedSubmit[]).filter((entry) => wanted.has(entry.submit.reference ?? ''));
}

async function configure(provider: string, behaviour: Partial<SimulatedProviderBehaviour>): Promise<void> {
  const response = await request(`${stack.simulatorUrl}/_control/${provider}`, { method: 'POST', body: JSON.stringify(behaviour) });
  assert.equal(response.statusCode, 200);
  await response.body.dump();
}

async function callbacksSent(provider: string): Promise<number> {
  const response = await request(`${stack.simulatorUrl}/_control/stats`);
  const stats = (await response.body.json()) as { provider: string; callbacks: number }[];
  return stats.find((entry) => entry.provider === provider)?.callbacks ?? 0;
}

async function finalCount(ids: readonly string[]): Promise<number> {
  return stack.db.message.count({ where: { id: { in: [...ids] }, status: { in: [...FINAL_STATUSES] } } });
}

/** Waits until every message is final (or the bound passes); resolves with the seconds it took. */
async function settle(ids: readonly string[], since: number): Promise<number> {
  await eventually(async () => ((await finalCount(ids)) === ids.length ? true : undefined), SETTLE_MS, 'every message final').catch(() => undefined);
  return (Date.now() - since) / 1000;
}

interface Figures {
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
}

/** What happened to `ids`: their final statuses in PostgreSQL against what the provider received. */
async function figures(ids: readonly string[]): Promise<Figures> {
  const rows = await stack.db.message.findMany({ where: { id: { in: [...ids] } }, select: { id: true, status: true, errorCode: true } });
  const statusOf = new Map<string, MessageStatus>(rows.map((row) => [row.id, row.status]));
  const ambiguous = new Set(rows.filter((row) => row.status === 'unknown' && row.errorCode === 'ambiguous_submit').map((row) => row.id));
  const takenBy = new Map<string, number>();
  const reached = new Set<string>();
  for (const entry of await receivedFor(ids)) {
    const id = entry.submit.reference ?? '';
    reached.add(id);
    if (entry.outcome === 'accepted' || entry.outcome === 'dropped') takenBy.set(id, (takenBy.get(id) ?? 0) + 1);
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
  };
}

function report(scenario: string, result: Figures, recoverSeconds: number, extra = ''): void {
  console.log(
    `${scenario}: offered ${result.offered}; final by status ${JSON.stringify(result.byStatus)}; lost ${result.lost}; ` +
      `submitted twice ${result.submittedTwice}; accepted but never submitted ${result.acceptedNeverSubmitted}; ` +
      `unknown never received ${result.unknownNeverReceived} (+ ${result.markedButUnsent} marked about-to-send when the worker died); time to recover ${recoverSeconds.toFixed(1)} s${extra ? `; ${extra}` : ''}`,
  );
}

/** A worker that dies has at most its provider's window of requests between mark and send. */
const PROVIDER_WINDOW = 100;

function assertNothingLost(result: Figures, workerKilled = false): void {
  assert.equal(result.lost, 0, 'every message final');
  assert.equal(result.submittedTwice, 0, 'none submitted twice');
  assert.equal(result.unknownNeverReceived, 0, 'no unknown message the provider never received, but for a worker dying between mark and send');
  assert.equal(result.acceptedNeverSubmitted, 0, 'every message submitted');
  // Only a worker that dies can leave a marked request unsent; nothing else may.
  assert.ok(result.markedButUnsent <= (workerKilled ? PROVIDER_WINDOW : 0), `marked but unsent: ${result.markedButUnsent}`);
  assert.equal(result.byStatus.delivered, result.offered - result.markedButUnsent, 'every other message delivered');
}

describe('faults with the parts as separate processes', () => {
  test(`kill -9 of the worker process with ${MESSAGES} messages in flight, then a new one: every message final, none twice`, async () => {
    const ids = await send(numbers('4531', MESSAGES));
    // Some submits made, most not: the worker dies in the middle of its work.
    await eventually(async () => ((await receivedFor(ids)).length >= MESSAGES / 10 ? true : undefined), 120_000, 'first submits');
    const inFlight = ids.length - (await finalCount(ids));
    const killedAt = Date.now();
    await stack.kill('workers', 0);
    await stack.restart('workers', 0);
    const recovered = await settle(ids, killedAt);
    const result = await figures(ids);
    report('worker kill -9', result, recovered, `in flight when killed ${inFlight}`);
    assertNothingLost(result, true);
  });

  test('kill -9 of the Temporal dev server mid-run, restarted on the same SQLite file: every message final, none twice', async () => {
    const ids = await send(numbers('4532', MESSAGES));
    await eventually(async () => ((await receivedFor(ids)).length >= MESSAGES / 3 ? true : undefined), 120_000, 'a third submitted');
    const inFlight = ids.length - (await finalCount(ids));
    await killTemporal();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    const restartedAt = Date.now();
    temporal = await startTemporal();
    const recovered = await settle(ids, restartedAt);
    const result = await figures(ids);
    report('Temporal kill -9', result, recovered, `in flight when killed ${inFlight}; down ${DOWN_MS / 1000} s`);
    assertNothingLost(result);
  });

  test('Temporal unreachable during a burst of delivery reports and an inbound SMS: every one acknowledged and stored, every message delivered once Temporal is back', async () => {
    const ids = await send(numbers('4540', MESSAGES));
    const submittedWhere = { id: { in: ids }, status: 'submitted' as const };
    await eventually(async () => ((await stack.db.message.count({ where: submittedWhere })) === ids.length ? true : undefined), 180_000, 'every message submitted');
    const reportsBeforeStop = await callbacksSent('reports');
    await killTemporal();
    const inboundStatus = await postInbound('reports', { id: 'while-temporal-down', from: '+447700900123', to: '+447700900999', text: 'anyone there?' });
    await eventually(async () => ((await callbacksSent('reports')) === ids.length ? true : undefined), REPORT_DELAY_MS + 180_000, 'every report sent');
    const stored = await stack.db.deliveryReport.count({ where: { messageId: { in: ids } } });
    const waiting = await stack.db.deliveryReport.count({ where: { messageId: { in: ids }, processedAt: null } });
    const stillSubmitted = await stack.db.message.count({ where: submittedWhere });
    const inbound = await stack.db.inboundMessage.findUniqueOrThrow({ where: { id: 'reports:while-temporal-down' } });
    const restartedAt = Date.now();
    temporal = await startTemporal();
    const recovered = await settle(ids, restartedAt);
    const result = await figures(ids);
    report('DLR burst while Temporal is down', result, recovered, `reports before the stop ${reportsBeforeStop}; waiting in the inbox while down ${waiting}`);
    // The simulator sends each report once: a report refused while Temporal was down never comes
    // again, so every message delivered means every report was acknowledged and kept.
    assert.equal(stored, ids.length, 'every report is in the inbox, one row each');
    assert.ok(waiting >= ids.length - reportsBeforeStop, 'every report sent while Temporal was down waits in the inbox');
    assert.equal(stillSubmitted, ids.length - reportsBeforeStop, 'no stored report was applied while Temporal was down');
    assertNothingLost(result);
    // The inbound SMS: acknowledged while Temporal was down, its workflow started once it was back.
    assert.equal(inboundStatus, 204);
    assert.equal(inbound.workflowStartedAt, null);
    const outcome = await eventually(async () => {
      const row = await stack.db.inboundMessage.findUniqueOrThrow({ where: { id: inbound.id } });
      return row.workflowStartedAt ? stack.temporal.workflow.getHandle(inbound.id).result() : undefined;
    }, 120_000, 'inbound workflow started');
    assert.deepEqual(outcome, { accountId: null, keyword: null });
  });

  test('the API killed mid-batch, the client retrying the same requests with the same clientRefs: the same message ids, none sent twice', async () => {
    // The simulator, unlike a real provider, never retries a DLR the dead API refused: every report
    // waits until the API is back, so a lost one is the router's doing.
    await configure('steady', { dlrDelayMs: API_DOWN_REPORT_DELAY_MS });
    const batches: Recipient[][] = [];
    const to = numbers('4533', MESSAGES);
    for (let start = 0; start < to.length; start += BATCH / 4) {
      batches.push(to.slice(start, start + BATCH / 4).map((number, index) => ({ to: number, clientRef: `fault-${start + index}` })));
    }
    const idOf = new Map<string, Set<string>>();
    const note = (batch: readonly Recipient[], ids: Map<string, string>) => {
      for (const recipient of batch) {
        const id = ids.get(recipient.to);
        assert.ok(id, `an id for ${recipient.to}`);
        idOf.set(recipient.to, (idOf.get(recipient.to) ?? new Set()).add(id));
      }
    };
    let failedRequests = 0;
    /** The client: each request again, the same body, until the API answers 202. */
    const sendUntilAccepted = async (batch: readonly Recipient[]) => {
      for (;;) {
        const answer = await postBatch(batch);
        if (!(answer instanceof Error) && answer.statusCode === 202) return note(batch, answer.ids);
        // Only the crash is retried: a refusal is an answer.
        if (!(answer instanceof Error) && answer.statusCode < 500) throw new Error(`batch answered ${answer.statusCode}`);
        failedRequests += 1;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    let next = 0;
    const client = async () => {
      while (next < batches.length) {
        const batch = batches[next];
        next += 1;
        if (batch) await sendUntilAccepted(batch);
      }
    };
    const clients = Promise.all([client(), client()]);
    await eventually(async () => (next >= batches.length / 3 ? true : undefined), 120_000, 'a third of the batches sent');
    const killedAt = Date.now();
    await stack.kill('api');
    await stack.restart('api');
    await clients;
    const answeredAll = (Date.now() - killedAt) / 1000;
    // Every request once more, as a client unsure of its answers would: the same ids again.
    for (const batch of batches) await sendUntilAccepted(batch);

    const ids = [...new Set([...idOf.values()].flatMap((set) => [...set]))];
    const recovered = await settle(ids, killedAt);
    const result = await figures(ids);
    const rows = await stack.db.message.count({ where: { clientRef: { in: batches.flat().map((recipient) => recipient.clientRef ?? '') } } });
    report('API kill -9 mid-batch', result, recovered, `requests that failed and were retried ${failedRequests}; all batches answered ${answeredAll.toFixed(1)} s after the kill`);
    assert.ok(failedRequests > 0, 'the kill interrupted requests');
    assert.deepEqual([...idOf.values()].filter((set) => set.size !== 1), [], 'one message id per clientRef across every answer');
    assert.equal(ids.length, MESSAGES);
    assert.equal(rows, MESSAGES, 'one Message row per clientRef');
    assertNothingLost(result);
  });
});
