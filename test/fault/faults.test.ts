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
import { findTemporalCli } from '../../src/dev/temporal-cli';
import { startTemporalDevServer, type DevServer } from '../../src/dev/temporal-server';
import type { SimulatedProviderBehaviour } from '../../src/simulator/server';
import {
  assertNothingLost,
  figures,
  finalCount,
  numbers,
  postBatch,
  receivedFor,
  report,
  settle as settleWithin,
  type BatchAnswer,
  type Recipient,
} from '../support/fault-figures';
import { startOwnPostgres, type OwnPostgres } from '../support/own-postgres';
import { startProcessStack, type ProcessStack } from '../support/process-stack';
import { eventually, freePort } from '../support/stack';

/** Messages per scenario; the worker-kill scenario has them all in flight when the worker dies. */
const MESSAGES = Number(process.env.FAULT_MESSAGES ?? 300);
/** Messages of the PostgreSQL and provider-change scenarios: half as many, as they stand on the client's pace. */
const HALF = Math.ceil(MESSAGES / 2);
/** How long Temporal, or PostgreSQL, stays down. */
const DOWN_MS = Number(process.env.FAULT_DOWN_SECONDS ?? 5) * 1000;
const BATCH = 100;
/** Small batches at a steady pace, so that clients are still sending while PostgreSQL is down. */
const OUTAGE_BATCH = 5;
const OUTAGE_PAUSE_MS = 500;
/** Generous for this shared 2-core machine: a bound on "eventually", not a speed target. */
const SETTLE_MS = Math.max(240_000, MESSAGES * 400);
const credentials = { apiKey: 'k', dlrSecret: 'dlr-secret' };
/** Long DLR delay of the reports provider: every report comes after Temporal is stopped. */
const REPORT_DELAY_MS = Number(process.env.FAULT_REPORT_DELAY_SECONDS ?? 25) * 1000;
/** DLR delay while the API is killed and restarted: longer than its restart takes. */
const API_DOWN_REPORT_DELAY_MS = 20_000;
const ADMIN_API_KEY = 'fault-test-admin-key-0123456789';

let stateDir: string;
let temporalPort: number;
let temporal: DevServer;
/** The stack's PostgreSQL, its own: stopping the machine's shared one would break other tests. */
let postgres: OwnPostgres;
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
  postgres = await startOwnPostgres();
  stack = await startProcessStack({
    temporalAddress: temporal.address,
    databaseServerUrl: postgres.urlOf('postgres'),
    providers: [
      // Latency keeps submits in flight; the DLR delay keeps submitted messages waiting for their report.
      { id: 'steady', dialect: 'generic', credentials, routes: [{ prefix: '453' }], tps: 200, window: 100, dlrTimeoutSeconds: 600, behaviour: { latencyMs: 100, dlrDelayMs: 2000 } },
      { id: 'reports', dialect: 'generic', credentials, routes: [{ prefix: '4540' }], tps: 200, window: 100, dlrTimeoutSeconds: 600, behaviour: { dlrDelayMs: REPORT_DELAY_MS, callbackRetryForMs: 0 } },
      // Changed, disabled and enabled again under traffic; `standby` takes its new messages while it is disabled.
      // Slower than its traffic, so that submits queue for it: they are in its queue when it is disabled.
      { id: 'changing', dialect: 'generic', credentials, routes: [{ prefix: '4550', priority: 0 }], tps: 40, window: 4, dlrTimeoutSeconds: 600, behaviour: { latencyMs: 1000, dlrDelayMs: 1000 } },
      { id: 'standby', dialect: 'generic', credentials, routes: [{ prefix: '4550', priority: 1 }], tps: 100, window: 20, dlrTimeoutSeconds: 600, behaviour: { dlrDelayMs: 1000 } },
    ],
    env: { SUBMIT_TIMEOUT_SECONDS: '5', ADMIN_API_KEY },
  });
});

after(async () => {
  await stack?.close();
  await temporal?.stop();
  await postgres?.close();
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

async function send(to: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < to.length; start += BATCH) {
    const answer = await postBatch(stack, to.slice(start, start + BATCH).map((number) => ({ to: number })));
    if (answer instanceof Error) throw answer;
    assert.equal(answer.statusCode, 202);
    ids.push(...answer.ids.values());
  }
  assert.equal(ids.length, to.length);
  return ids;
}

/** `to` in batches of `size`, each recipient with a clientRef, so that a batch sent again names the same messages. */
function batchesOf(to: readonly string[], size: number, refPrefix: string): Recipient[][] {
  const batches: Recipient[][] = [];
  for (let start = 0; start < to.length; start += size) {
    batches.push(to.slice(start, start + size).map((number, index) => ({ to: number, clientRef: `${refPrefix}-${start + index}` })));
  }
  return batches;
}

/**
 * A client sending `batches` from `clients` concurrent loops, each request again until the API
 * answers 202; `retryable` says which other answers it retries (after the Retry-After it was
 * given, else a short pause), any other answer fails the test. `sent` counts batches taken up.
 */
class RetryingClient {
  sent = 0;
  failedRequests = 0;
  readonly refusals: BatchAnswer[] = [];
  private readonly idOf = new Map<string, Set<string>>();

  constructor(
    private readonly batches: readonly Recipient[][],
    private readonly retryable: (answer: BatchAnswer | Error) => boolean,
    private readonly pauseMs = 0,
  ) {}

  run(clients: number): Promise<void> {
    return Promise.all(Array.from({ length: clients }, () => this.loop())).then(() => undefined);
  }

  /** Every batch once more, as a client unsure of its answers would. */
  async resendAll(): Promise<void> {
    for (const batch of this.batches) await this.sendUntilAccepted(batch);
  }

  /** The message ids answered for each recipient, over every answer. */
  get answeredIds(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.idOf;
  }

  get ids(): string[] {
    return [...new Set([...this.idOf.values()].flatMap((set) => [...set]))];
  }

  private async loop(): Promise<void> {
    while (this.sent < this.batches.length) {
      const batch = this.batches[this.sent];
      this.sent += 1;
      if (batch) await this.sendUntilAccepted(batch);
      await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
    }
  }

  private async sendUntilAccepted(batch: readonly Recipient[]): Promise<void> {
    for (;;) {
      const answer = await postBatch(stack, batch);
      if (!(answer instanceof Error) && answer.statusCode === 202) return this.note(batch, answer.ids);
      if (!this.retryable(answer)) throw new Error(`batch answered ${answer instanceof Error ? answer.message : answer.statusCode}`);
      this.failedRequests += 1;
      if (!(answer instanceof Error)) this.refusals.push(answer);
      const retryAfterMs = answer instanceof Error ? 0 : Number(answer.retryAfter ?? 0) * 1000;
      await new Promise((resolve) => setTimeout(resolve, retryAfterMs || 200));
    }
  }

  private note(batch: readonly Recipient[], ids: Map<string, string>): void {
    for (const recipient of batch) {
      const id = ids.get(recipient.to);
      assert.ok(id, `an id for ${recipient.to}`);
      this.idOf.set(recipient.to, (this.idOf.get(recipient.to) ?? new Set()).add(id));
    }
  }
}

/** The submits of `ids` that reached the simulator, whatever it answered. */
function received(ids: readonly string[]) {
  return receivedFor(stack, ids);
}

function settle(ids: readonly string[], since: number): Promise<number> {
  return settleWithin(stack, ids, since, SETTLE_MS);
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

/** A change of a provider through the admin API, as an operator makes it. */
async function changeProvider(id: string, action: 'patch' | 'disable', body: Record<string, unknown> = {}): Promise<void> {
  const response = await request(`${stack.apiUrl}/v1/admin/providers/${id}${action === 'disable' ? '/disable' : ''}`, {
    method: action === 'disable' ? 'POST' : 'PATCH',
    headers: { authorization: `Bearer ${ADMIN_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(response.statusCode, 200, await response.body.text());
}

describe('faults with the parts as separate processes', () => {
  test(`kill -9 of the worker process with ${MESSAGES} messages in flight, then a new one: every message final, none twice`, async () => {
    const ids = await send(numbers('4531', MESSAGES));
    // Some submits made, most not: the worker dies in the middle of its work.
    await eventually(async () => ((await received(ids)).length >= MESSAGES / 10 ? true : undefined), 120_000, 'first submits');
    const inFlight = ids.length - (await finalCount(stack, ids));
    const killedAt = Date.now();
    await stack.kill('workers', 0);
    await stack.restart('workers', 0);
    const recovered = await settle(ids, killedAt);
    const result = await figures(stack, ids);
    report('worker kill -9', result, recovered, `in flight when killed ${inFlight}`);
    assertNothingLost(result, true);
  });

  test('kill -9 of the Temporal dev server mid-run, restarted on the same SQLite file: every message final, none twice', async () => {
    const ids = await send(numbers('4532', MESSAGES));
    await eventually(async () => ((await received(ids)).length >= MESSAGES / 3 ? true : undefined), 120_000, 'a third submitted');
    const inFlight = ids.length - (await finalCount(stack, ids));
    await killTemporal();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    const restartedAt = Date.now();
    temporal = await startTemporal();
    const recovered = await settle(ids, restartedAt);
    const result = await figures(stack, ids);
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
    const result = await figures(stack, ids);
    report('DLR burst while Temporal is down', result, recovered, `reports before the stop ${reportsBeforeStop}; waiting in the inbox while down ${waiting}`);
    // This provider sends each report once (no retries): a report refused while Temporal was down
    // would never come again, so every message delivered means every report was acknowledged and kept.
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

  test(`PostgreSQL killed (kill -9) mid-run and started again: every message final, none twice, the API never answering 500`, async () => {
    const client = new RetryingClient(batchesOf(numbers('4534', HALF), OUTAGE_BATCH, 'pg-kill'), isOutageAnswer, OUTAGE_PAUSE_MS);
    const clients = client.run(2);
    await eventually(async () => (client.sent >= HALF / OUTAGE_BATCH / 3 && (await received(client.ids)).length > 0 ? true : undefined), 120_000, 'submits under way');
    const killedAt = Date.now();
    await postgres.kill();
    await postgres.start();
    await clients;
    const ids = client.ids;
    const recovered = await settle(ids, killedAt);
    const result = await figures(stack, ids);
    report('PostgreSQL kill -9', result, recovered, `requests refused and retried ${client.failedRequests}`);
    assertOneIdPerClientRef(client);
    assert.equal(ids.length, HALF);
    assertNothingLost(result);
  });

  test(`PostgreSQL stopped for ${DOWN_MS / 1000} s under traffic: submits it cannot keep get 503 with Retry-After, every acknowledged message final, none twice`, async () => {
    const client = new RetryingClient(batchesOf(numbers('4535', HALF), OUTAGE_BATCH, 'pg-down'), isOutageAnswer, OUTAGE_PAUSE_MS);
    const clients = client.run(2);
    // Submitted but not yet reported messages meet the outage: their reports and status writes wait for it.
    await eventually(async () => (client.sent >= HALF / OUTAGE_BATCH / 3 && (await received(client.ids)).length > 0 ? true : undefined), 120_000, 'submits under way');
    const [workerPid, apiPid] = [stack.workers[0]?.pid, stack.api.pid];
    const stoppedAt = Date.now();
    await postgres.stop();
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    const startedAt = Date.now();
    await postgres.start();
    await clients;
    const ids = client.ids;
    const recovered = await settle(ids, startedAt);
    const result = await figures(stack, ids);
    const unavailable = client.refusals.filter((answer) => answer.statusCode === 503);
    report('PostgreSQL down', result, recovered, `down ${((startedAt - stoppedAt) / 1000).toFixed(1)} s; 503 answers ${unavailable.length}, every one with Retry-After ${unavailable.every((answer) => answer.retryAfter !== undefined)}`);
    assert.ok(unavailable.length > 0, 'submits during the outage were refused with 503');
    assert.ok(unavailable.every((answer) => answer.retryAfter !== undefined), 'every 503 carries Retry-After');
    assertOneIdPerClientRef(client);
    assert.equal(ids.length, HALF);
    assertNothingLost(result);
    assert.equal(stack.workers[0]?.pid, workerPid, 'the worker process lived through the outage');
    assert.equal(stack.api.pid, apiPid, 'the API process lived through the outage');
  });

  test('a provider’s tps and window changed, then the provider disabled and enabled again, under traffic: every message final, none twice', async () => {
    const changes = [[30, 3], [50, 5], [35, 4]] as const;
    const changeGapMs = 2_000;
    const disabledMs = Math.max(DOWN_MS, 4_000);
    const batches = batchesOf(numbers('4550', HALF), OUTAGE_BATCH, 'change');
    // Traffic spans every change and the disabled time, and a little after.
    const client = new RetryingClient(batches, () => false, (changes.length * changeGapMs + disabledMs + 4_000) / batches.length);
    const clients = client.run(1);
    const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await eventually(async () => ((await received(client.ids)).length > 0 ? true : undefined), 120_000, 'submits under way');
    const changedAt = Date.now();
    // Each change replaces the worker process's dispatch worker for `changing` with submits in flight.
    for (const [tps, window] of changes) {
      await changeProvider('changing', 'patch', { tps, window });
      await wait(changeGapMs);
    }
    // Submits already queued for it wait for a dispatch worker; new messages route to `standby` meanwhile.
    await changeProvider('changing', 'disable');
    const acceptedBeforeDisable = new Set(client.ids);
    await wait(disabledMs);
    await changeProvider('changing', 'patch', { enabled: true });
    const enabledAt = Date.now();
    await clients;
    const ids = client.ids;
    const recovered = await settle(ids, changedAt);
    const result = await figures(stack, ids);
    const waitedThroughDisable = (await received(ids)).filter(
      (entry) => entry.provider === 'changing' && entry.receivedAt > enabledAt && acceptedBeforeDisable.has(entry.submit.reference ?? ''),
    ).length;
    report('provider changed, disabled, enabled', result, recovered, `accepted by provider ${JSON.stringify(result.byProvider)}; queued before the disable and sent after the enable ${waitedThroughDisable}`);
    assert.equal(ids.length, HALF);
    assertNothingLost(result);
  });

  test('the API killed mid-batch, the client retrying the same requests with the same clientRefs: the same message ids, none sent twice', async () => {
    // The simulator, unlike a real provider, never retries a DLR the dead API refused: every report
    // waits until the API is back, so a lost one is the router's doing.
    await configure('steady', { dlrDelayMs: API_DOWN_REPORT_DELAY_MS });
    const batches = batchesOf(numbers('4533', MESSAGES), BATCH / 4, 'fault');
    // Only the crash is retried: a refusal is an answer.
    const client = new RetryingClient(batches, (answer) => answer instanceof Error || answer.statusCode >= 500);
    const clients = client.run(2);
    await eventually(async () => (client.sent >= batches.length / 3 ? true : undefined), 120_000, 'a third of the batches sent');
    const killedAt = Date.now();
    await stack.kill('api');
    await stack.restart('api');
    await clients;
    const answeredAll = (Date.now() - killedAt) / 1000;
    await client.resendAll();

    const ids = client.ids;
    const recovered = await settle(ids, killedAt);
    const result = await figures(stack, ids);
    const rows = await stack.db.message.count({ where: { clientRef: { in: batches.flat().map((recipient) => recipient.clientRef ?? '') } } });
    report('API kill -9 mid-batch', result, recovered, `requests that failed and were retried ${client.failedRequests}; all batches answered ${answeredAll.toFixed(1)} s after the kill`);
    assert.ok(client.failedRequests > 0, 'the kill interrupted requests');
    assertOneIdPerClientRef(client);
    assert.equal(ids.length, MESSAGES);
    assert.equal(rows, MESSAGES, 'one Message row per clientRef');
    assertNothingLost(result);
  });
});

/** While PostgreSQL is down the API refuses what it cannot keep with a 503; never a 500, never a crash. */
function isOutageAnswer(answer: BatchAnswer | Error): boolean {
  return !(answer instanceof Error) && answer.statusCode === 503;
}

function assertOneIdPerClientRef(client: RetryingClient): void {
  assert.deepEqual([...client.answeredIds.values()].filter((set) => set.size !== 1), [], 'one message id per clientRef across every answer');
}
