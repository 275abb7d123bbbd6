// The whole router under load, on each Temporal backend in turn (bench/backends.ts): the API, the
// worker and the provider simulator each in its own OS process (test/support/process-stack.ts),
// the router's PostgreSQL database, and N messages through the REST API from this process with
// bounded client concurrency. On the same server, as many bare workflows of the message's shape
// (bench/bare-shape, its workers in this process) give the Temporal ceiling, in rounds that
// alternate with the router's (measureOn). The figures: both rates and their ratio, over the
// whole run and over its middle 80% of completions, history events and workflow tasks per message,
// and CPU ms per delivered message of every process (bench/cpu.ts).
//
//   npm run bench -- end-to-end --backend=embedded --messages=1000 --concurrency=32
//   (BENCH_MESSAGES and BENCH_CONCURRENCY set the defaults of the last two)
//   --cpu-prof=<dir>: each part writes a V8 CPU profile there when it stops (node --cpu-prof)

import { Pool as PgPool } from 'pg';
import { request } from 'undici';
import { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import type { Database } from '../src/db/client';
import { reniceTree } from '../src/dev/process-tree';
import { DEMO_PROVIDERS } from '../src/dev/seed';
import { FINAL_STATUSES, type MessageStatus } from '../src/domain/status';
import { serverUrl } from '../test/support/database';
import { STACK_CLIENT_APPLICATION, startProcessStack, type ProcessStack } from '../test/support/process-stack';
import { installTemporalRuntime } from '../src/workers/runtime';
import { startStack, type TestStack } from '../test/support/stack';
import { BACKEND_LABELS, BACKENDS, isBackendName, startBackend, type BackendName, type RunningBackend } from './backends';
import { startBareShape, type BareShape, type BareShapeRun } from './bare-shape/run';
import type { RouterFeatures } from './bare-shape/workflows';
import { cpuSpent, machineCpuSpent, machineShares, readCpu, readMachineCpu, type MachineCpu, type ProcessGroup } from './cpu';
import { ascending, backgroundNiceFromEnv, BenchConfigError, percentile, PROVIDER_TPS, PROVIDER_WINDOW, positiveInteger, ratio, round, steadyRate, submitAll } from './load';
import type { BenchOptions, BenchResult, BenchValue } from './types';

export const END_TO_END_OPTIONS: readonly string[] = ['backend', 'messages', 'concurrency', 'cpu-prof'];

/** Sent and finished before measuring, so connection set-up and first-use costs stay out of the figures. */
const WARM_UP_MESSAGES = 20;
const HISTORY_SAMPLES = 20;
const POLL_MS = 250;

const EventType = temporal.api.enums.v1.EventType;

export class BenchTimeoutError extends Error {
  override readonly name = 'BenchTimeoutError';
  constructor(
    readonly finished: number,
    readonly expected: number,
  ) {
    super(`only ${finished} of ${expected} messages reached a final status in time`);
  }
}

/** The in-process test stack with the demo's first provider raised to the benchmark's rate and window. */
export async function startBenchStack(): Promise<{ stack: TestStack; providerId: string }> {
  const [provider] = DEMO_PROVIDERS;
  if (!provider) throw new BenchConfigError('no demo provider to send through');
  const stack = await startStack();
  await stack.db.provider.update({ where: { id: provider.id }, data: { tps: PROVIDER_TPS, window: PROVIDER_WINDOW } });
  // New workers read the new rate and window at once, instead of at the next provider sync.
  await stack.restartWorkers();
  // The simulator enforces the contract like a real provider would, answering 429 past it.
  stack.simulator.configure(provider.id, { tpsLimit: PROVIDER_TPS });
  return { stack, providerId: provider.id };
}

interface Finished {
  /** When the last of them became final (the workflow's clock, written to Message.completedAt). */
  readonly lastFinalAt: Date;
  /** Statements this sent to the router's database, each a transaction of its own. */
  readonly statements: number;
}

async function waitUntilFinal(db: Database, ids: readonly string[], timeoutMs: number): Promise<Finished> {
  const finalStatuses: MessageStatus[] = [...FINAL_STATUSES];
  const deadline = Date.now() + timeoutMs;
  let statements = 0;
  for (;;) {
    statements += 1;
    const finished = await db.message.count({ where: { id: { in: [...ids] }, status: { in: finalStatuses } } });
    if (finished === ids.length) break;
    if (Date.now() > deadline) throw new BenchTimeoutError(finished, ids.length);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const { _max } = await db.message.aggregate({ where: { id: { in: [...ids] } }, _max: { completedAt: true } });
  return { lastFinalAt: _max.completedAt ?? new Date(), statements: statements + 1 };
}

interface HistoryShape {
  readonly events: number;
  readonly workflowTasks: number;
  readonly markers: number;
  readonly timers: number;
}

async function historyShape(client: Client, workflowId: string): Promise<HistoryShape> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const count = (type: number) => events.filter((event) => event.eventType === type).length;
  return {
    events: events.length,
    workflowTasks: count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    markers: count(EventType.EVENT_TYPE_MARKER_RECORDED),
    timers: count(EventType.EVENT_TYPE_TIMER_STARTED),
  };
}

/** Median and range over a sample, as `median (min–max)`. */
function spread(values: readonly number[]): string {
  const sorted = ascending(values);
  return `${percentile(sorted, 0.5)} (${sorted[0]}–${sorted[sorted.length - 1]})`;
}

function perMessage(spent: Readonly<Record<string, number>>, count: number): Record<string, number> {
  return Object.fromEntries(Object.entries(spent).map(([name, ms]) => [name, round(ms / count)]));
}

const CPU_ROWS = ['Temporal server', 'PostgreSQL, Temporal databases', 'PostgreSQL, router database', 'API', 'worker', 'simulator'] as const;
type CpuRow = (typeof CPU_ROWS)[number];

/** How long the simulated provider waits before reporting; 0 unless BENCH_DLR_DELAY_MS says otherwise. */
function dlrDelayMs(): number {
  const raw = process.env.BENCH_DLR_DELAY_MS;
  return raw === undefined || raw === '0' ? 0 : positiveInteger('BENCH_DLR_DELAY_MS', raw, 0);
}

interface ProviderCounts {
  readonly received: number;
  readonly throttled: number;
}

/** Submits the simulator took so far, and how many it answered 429. */
async function providerCounts(simulatorUrl: string): Promise<ProviderCounts> {
  const stats = (await (await request(`${simulatorUrl}/_control/stats`)).body.json()) as ProviderCounts[];
  return stats.reduce((sum, entry) => ({ received: sum.received + entry.received, throttled: sum.throttled + entry.throttled }), { received: 0, throttled: 0 });
}

function routerDatabaseOf(stack: ProcessStack): string {
  return new URL(stack.config.DATABASE_URL).pathname.slice(1);
}

function routerProcesses(backend: RunningBackend, stack: ProcessStack, pg: PgPool): Record<CpuRow, ProcessGroup | undefined> {
  const tree = (pid: number | undefined): ProcessGroup | undefined => (pid === undefined ? undefined : { kind: 'tree', pid });
  return {
    'Temporal server': tree(backend.serverPid),
    'PostgreSQL, Temporal databases': backend.databases.length > 0 ? { kind: 'postgres', pool: pg, databases: backend.databases } : undefined,
    // Not this process's own connections (polling for final statuses): a router's client has none.
    'PostgreSQL, router database': { kind: 'postgres', pool: pg, databases: [routerDatabaseOf(stack)], notApplication: STACK_CLIENT_APPLICATION },
    API: tree(stack.api.pid),
    worker: tree(stack.workers[0]?.pid),
    simulator: tree(stack.simulator.pid),
  };
}

/** Committed transactions of a database so far: with autocommit, its statements (round trips). */
async function transactionsOf(pg: PgPool, database: string): Promise<number> {
  const { rows } = await pg.query<{ xact_commit: string }>('SELECT xact_commit FROM pg_stat_database WHERE datname = $1', [database]);
  return Number(rows[0]?.xact_commit ?? 0);
}

function defined(groups: Readonly<Record<string, ProcessGroup | undefined>>): Record<string, ProcessGroup> {
  return Object.fromEntries(Object.entries(groups).filter((entry): entry is [string, ProcessGroup] => entry[1] !== undefined));
}

/**
 * The bare shape's features variant, its delivery report deadline that of the benchmark's provider:
 * longer than a backend's part of the run, so that no timer fires while a round is measured (a
 * closed workflow's timer still fires on the server, and would land in the next round's figures).
 */
const ROUTER_FEATURES: RouterFeatures = { reportDeadlineSeconds: 600 };

const BARE_CPU_ROWS = ['Temporal server', 'PostgreSQL, Temporal databases', 'bench process (bare workers, client)'] as const;

interface BareRound {
  readonly run: BareShapeRun;
  /** CPU ms per workflow, by process group. */
  readonly cpu: Record<string, number>;
  readonly machine: MachineCpu;
  readonly seconds: number;
}

async function measureBareRound(
  shape: BareShape,
  processes: Readonly<Record<string, ProcessGroup>>,
  count: number,
  concurrency: number,
  routerFeatures?: RouterFeatures,
): Promise<BareRound> {
  const before = await readCpu(processes);
  const machineBefore = readMachineCpu();
  const startedAt = Date.now();
  const run = await shape.run(count, concurrency, routerFeatures);
  const machine = machineCpuSpent(machineBefore, readMachineCpu());
  const seconds = (Date.now() - startedAt) / 1000;
  return { run, cpu: perMessage(cpuSpent(before, await readCpu(processes)), count), machine, seconds };
}

/**
 * Server CPU ms per timer that fires on a closed workflow. Every message's delivery report timer
 * does, once its deadline passes (48 h by default), so in a steady state the server pays this at
 * the message rate; the rounds above are over before their timers are due. Measured as the CPU the
 * server (and its database) spends, once a round of workflows has ended, over the window in which
 * their timers come due, less what it spends idle over as long.
 */
async function timerFiringCost(shape: BareShape, server: Readonly<Record<string, ProcessGroup>>, concurrency: number, client: Client): Promise<number> {
  const serverMs = async (during: () => Promise<unknown>): Promise<number> => {
    const before = await readCpu(server);
    await during();
    return Object.values(cpuSpent(before, await readCpu(server))).reduce((sum, ms) => sum + ms, 0);
  };
  const waitMs = (ms: number) => new Promise((resolveWait) => setTimeout(resolveWait, ms));
  const startedAt = Date.now();
  const { ids } = await shape.run(TIMER_ROUND_WORKFLOWS, concurrency, { reportDeadlineSeconds: TIMER_ROUND_DEADLINE_SECONDS, timer: 'always' });
  const roundMs = Date.now() - startedAt;
  if (roundMs >= TIMER_ROUND_DEADLINE_SECONDS * 1000) return Number.NaN; // some fired during the round
  // Each timer is due a deadline after its workflow began to wait, within the round: all fall in
  // the deadline after the round's end, and the timer queue may lag a little.
  const windowMs = TIMER_ROUND_DEADLINE_SECONDS * 1000 + TIMER_LAG_MS;
  const firing = await serverMs(() => waitMs(windowMs));
  const idle = await serverMs(() => waitMs(IDLE_SAMPLE_MS));
  // Counted rather than assumed: a timer is a command the workflow may not have sent.
  const timers = (await Promise.all(ids.map((id) => historyShape(client, id)))).reduce((sum, shape) => sum + shape.timers, 0);
  return timers === 0 ? Number.NaN : round((firing - (idle * windowMs) / IDLE_SAMPLE_MS) / timers);
}

const TIMER_ROUND_WORKFLOWS = 100;
const TIMER_ROUND_DEADLINE_SECONDS = 20;
const TIMER_LAG_MS = 3_000;
const IDLE_SAMPLE_MS = 5_000;

/** A round of router messages: what the API accepted, when each became final, and what every part spent. */
interface RouterRound {
  readonly count: number;
  /** First submit to the last final status. */
  readonly seconds: number;
  readonly acceptedSeconds: number;
  readonly latencies: readonly number[];
  readonly deliveredIds: readonly string[];
  readonly completedAtMs: readonly number[];
  /** CPU ms by process group. */
  readonly spent: Record<string, number>;
  readonly loadMs: number;
  readonly machine: MachineCpu;
  readonly machineSeconds: number;
  readonly transactions: number;
  readonly provider: ProviderCounts;
}

interface RouterUnderTest {
  readonly stack: ProcessStack;
  readonly processes: Readonly<Record<string, ProcessGroup>>;
  readonly pg: PgPool;
  readonly concurrency: number;
}

async function measureRouterRound(router: RouterUnderTest, count: number, label: string): Promise<RouterRound> {
  const { stack, processes, pg } = router;
  const loadGenerator: Record<string, ProcessGroup> = { 'bench process': { kind: 'process', pid: process.pid } };
  const routerDatabase = routerDatabaseOf(stack);
  const transactionsBefore = await transactionsOf(pg, routerDatabase);
  const providerBefore = await providerCounts(stack.simulatorUrl);
  const before = await readCpu(processes);
  const loadBefore = await readCpu(loadGenerator);
  const machineBefore = readMachineCpu();
  const run = await submitAll(stack.apiUrl, count, router.concurrency, label);
  // Generous: a loaded machine may need many times the expected time.
  const { lastFinalAt, statements: polls } = await waitUntilFinal(stack.db, run.ids, 120_000 + count * 100);
  const machine = machineCpuSpent(machineBefore, readMachineCpu());
  const machineSeconds = (Date.now() - run.startedAt) / 1000;
  const spent = cpuSpent(before, await readCpu(processes));
  const loadSpent = cpuSpent(loadBefore, await readCpu(loadGenerator));
  const providerAfter = await providerCounts(stack.simulatorUrl);
  const finals = await stack.db.message.findMany({ where: { id: { in: run.ids } }, select: { id: true, status: true, completedAt: true } });
  // PostgreSQL publishes a backend's counts within a second of its last transaction.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return {
    count,
    seconds: (lastFinalAt.getTime() - run.startedAt) / 1000,
    acceptedSeconds: run.seconds,
    latencies: run.latencies,
    deliveredIds: finals.filter((row) => row.status === 'delivered').map((row) => row.id),
    completedAtMs: finals.flatMap((row) => (row.completedAt ? [row.completedAt.getTime()] : [])),
    spent,
    loadMs: loadSpent['bench process'] ?? 0,
    machine,
    machineSeconds,
    // Less this process's own statements: the polls and the look-up of the finals above.
    transactions: (await transactionsOf(pg, routerDatabase)) - transactionsBefore - polls - 1,
    provider: { received: providerAfter.received - providerBefore.received, throttled: providerAfter.throttled - providerBefore.throttled },
  };
}

function sumOf(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0);
}

function summed(records: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const record of records) for (const [key, value] of Object.entries(record)) total[key] = (total[key] ?? 0) + value;
  return total;
}

function machineOver(machines: readonly MachineCpu[]): MachineCpu {
  return { busyMs: sumOf(machines.map((m) => m.busyMs)), idleMs: sumOf(machines.map((m) => m.idleMs)), stolenMs: sumOf(machines.map((m) => m.stolenMs)) };
}

/**
 * Router and bare rounds alternate, router–bare–bare–router, half the messages each: this machine's
 * speed drifts by more than the gap measured within minutes, and in that order a drift that is
 * steady over the four rounds weighs on both sides alike. The pairs' own ratios show how far apart
 * the two halves of the run were.
 */
async function measureOn(
  name: BackendName,
  messages: number,
  concurrency: number,
  backgroundNice: number,
  profileDir: string | undefined,
): Promise<Record<string, BenchValue>> {
  const backend = await startBackend(name);
  // The router runs as npm start runs it: the worker and the Temporal server behind the API.
  // The bare shape's workers and client run at this process's nice value, and the server at the
  // same for them: Temporal's ceiling with no part favoured. Under autogroup, raising a group's
  // priority back needs no privilege; a thread's own does, and without it its threads stay behind.
  const serverAt = (nice: number) => {
    if (backend.serverPid !== undefined) reniceTree(backend.serverPid, nice);
  };
  serverAt(backgroundNice);
  const pg = new PgPool({ connectionString: Object.assign(serverUrl(), { pathname: '/postgres' }).toString(), max: 1 });
  let stack: ProcessStack | undefined;
  let bareShape: BareShape | undefined;
  try {
    const [provider] = DEMO_PROVIDERS;
    if (!provider) throw new BenchConfigError('no demo provider to send through');
    stack = await startProcessStack({
      temporalAddress: backend.address,
      nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      workerNice: backgroundNice,
      providers: [
        {
          id: provider.id,
          dialect: provider.adapter,
          credentials: provider.credentials,
          routes: [{ prefix: '*' }],
          tps: PROVIDER_TPS,
          window: PROVIDER_WINDOW,
          dlrTimeoutSeconds: ROUTER_FEATURES.reportDeadlineSeconds,
          // The simulator enforces the contract like a real provider would, answering 429 past it,
          // and reports right after it accepts, as the bare shape's provider does (BENCH_DLR_DELAY_MS).
          behaviour: { tpsLimit: PROVIDER_TPS, dlrDelayMs: dlrDelayMs() },
        },
      ],
    });
    const warmUp = await submitAll(stack.apiUrl, WARM_UP_MESSAGES, concurrency, 'warm-up');
    await waitUntilFinal(stack.db, warmUp.ids, 120_000);
    const processes = defined(routerProcesses(backend, stack, pg));
    const router: RouterUnderTest = { stack, processes, pg, concurrency };

    // The bare run's workers and client live in this process; the server and its database are shared.
    const bareProcesses = defined({
      'Temporal server': processes['Temporal server'],
      'PostgreSQL, Temporal databases': processes['PostgreSQL, Temporal databases'],
      'bench process (bare workers, client)': { kind: 'process', pid: process.pid },
    });
    const serverProcesses = defined({ 'Temporal server': processes['Temporal server'], 'PostgreSQL, Temporal databases': processes['PostgreSQL, Temporal databases'] });
    // Warmed up as the router was, its set-up and first workflows outside the figures.
    bareShape = await startBareShape({ address: backend.address });
    serverAt(0);
    await bareShape.run(WARM_UP_MESSAGES, concurrency, ROUTER_FEATURES);

    const half = Math.max(1, Math.ceil(messages / 2));
    const routerRounds: RouterRound[] = [];
    const bareRounds: BareRound[] = [];
    for (const kind of ['router', 'bare', 'bare', 'router'] as const) {
      if (kind === 'router') {
        serverAt(backgroundNice);
        routerRounds.push(await measureRouterRound(router, half, `bench ${routerRounds.length + 1}`));
      } else {
        serverAt(0);
        bareRounds.push(await measureBareRound(bareShape, bareProcesses, half, concurrency));
      }
    }
    serverAt(0);
    const withFeatures = await measureBareRound(bareShape, bareProcesses, messages, concurrency, ROUTER_FEATURES);
    const timerCost = await timerFiringCost(bareShape, serverProcesses, concurrency, stack.temporal);

    const routed = routerRounds.reduce((sum, round) => sum + round.count, 0);
    const rate = routed / sumOf(routerRounds.map((round) => round.seconds));
    const bareRate = (half * bareRounds.length) / sumOf(bareRounds.map((round) => half / round.run.rate));
    const [firstRouter, secondRouter] = routerRounds;
    const [firstBare, secondBare] = bareRounds;
    const pairRatios =
      firstRouter && secondRouter && firstBare && secondBare
        ? `${ratio(firstRouter.count / firstRouter.seconds / firstBare.run.rate)} / ${ratio(secondRouter.count / secondRouter.seconds / secondBare.run.rate)}`
        : '–';
    const routerSteadyRate = sumOf(routerRounds.map((round) => steadyRate(round.completedAtMs))) / routerRounds.length;
    const bareSteadyRate = sumOf(bareRounds.map((round) => round.run.steadyRate)) / bareRounds.length;
    const deliveredIds = routerRounds.flatMap((round) => round.deliveredIds);
    const step = Math.max(1, Math.floor(deliveredIds.length / HISTORY_SAMPLES));
    const sample = deliveredIds.filter((_, index) => index % step === 0).slice(0, HISTORY_SAMPLES);
    const shapes = await Promise.all(sample.map((id) => historyShape(stack!.temporal, id)));

    const bareCpu = perMessage(summed(bareRounds.map((round) => round.cpu)), bareRounds.length);
    const bareTotal = sumOf(Object.values(bareCpu));
    const withFeaturesTotal = sumOf(Object.values(withFeatures.cpu));
    const cpu = perMessage(summed(routerRounds.map((round) => round.spent)), Math.max(1, deliveredIds.length));
    const cpuTotal = round(sumOf(Object.values(cpu)));
    const apiLatency = ascending(routerRounds.flatMap((round) => round.latencies));
    const throttled = sumOf(routerRounds.map((round) => round.provider.throttled));
    return {
      'delivered / messages': `${deliveredIds.length} / ${routed}`,
      'router end to end, submit to final (msg/s)': round(rate),
      'API accepted (msg/s)': round(routed / sumOf(routerRounds.map((round) => round.acceptedSeconds))),
      'provider submits (of which 429)': `${sumOf(routerRounds.map((round) => round.provider.received))} (${throttled})`,
      'bare Temporal, same shape and server (wf/s)': round(bareRate),
      'router / bare': ratio(rate / bareRate),
      'router / bare, first pair / second pair (rounds router, bare, bare, router)': pairRatios,
      // The bare shape plus the memo, search attributes, timer and upsert the router's workflow
      // has: what of the gap those cost on the server, and what is left for the router's own code.
      "bare with the router's Temporal features (wf/s)": round(withFeatures.run.rate),
      "router / bare with the router's Temporal features": ratio(rate / withFeatures.run.rate),
      // The same pair without the pipeline's fill and drain (steadyRate): what each sustains, apart
      // from a message's latency at either end of a run of a few hundred.
      'router, middle 80% of final statuses (msg/s)': round(routerSteadyRate),
      'bare, middle 80% of final statuses (wf/s)': round(bareSteadyRate),
      'router / bare, middle 80%': ratio(routerSteadyRate / bareSteadyRate),
      "router / bare with the router's Temporal features, middle 80%": ratio(routerSteadyRate / withFeatures.run.steadyRate),
      'history events per delivered message, router: median (range)': spread(shapes.map((shape) => shape.events)),
      'history events per workflow, bare / with the router\'s Temporal features': `${firstBare?.run.historyEvents ?? '–'} / ${withFeatures.run.historyEvents}`,
      'workflow tasks per delivered message, router': spread(shapes.map((shape) => shape.workflowTasks)),
      'markers per delivered message, router': spread(shapes.map((shape) => shape.markers)),
      // A message waits on a timer only when its report had not come by the end of its submit.
      'delivery report timers per delivered message, router: mean': round(shapes.reduce((sum, shape) => sum + shape.timers, 0) / Math.max(1, shapes.length), 2),
      'router database transactions per message': round(sumOf(routerRounds.map((round) => round.transactions)) / routed),
      ...Object.fromEntries(CPU_ROWS.map((row) => [`CPU ms per delivered message: ${row}`, cpu[row] ?? '–'])),
      'CPU ms per delivered message: total': cpuTotal,
      // Outside the router's total, as the client of a real router is.
      'CPU ms per message: bench process (client load, polling for final statuses)': round(sumOf(routerRounds.map((round) => round.loadMs)) / routed),
      ...Object.fromEntries(
        BARE_CPU_ROWS.map((row) => [`CPU ms per bare workflow: ${row}, bare / with the router's Temporal features`, `${bareCpu[row] ?? '–'} / ${withFeatures.cpu[row] ?? '–'}`]),
      ),
      // Steadier than the rates on a shared machine: what each costs, whatever else runs.
      'CPU per message, router total / bare total': ratio(cpuTotal / bareTotal),
      "CPU per message, router total / bare with the router's Temporal features": ratio(cpuTotal / withFeaturesTotal),
      // Not in any figure above: each message's timer fires after its deadline, when the run is over.
      'CPU ms of the Temporal server (and its database) per timer fired on a closed workflow': timerCost,
      // Idle left while the router ran says its pace was set by waits, not by CPU; the bare run's
      // idle is what Temporal alone leaves. Both include this process: the client load and polling.
      'the machine during the router rounds, busy / idle / stolen (% of one core)': machineShares(
        machineOver(routerRounds.map((round) => round.machine)),
        sumOf(routerRounds.map((round) => round.machineSeconds)),
      ),
      'the machine during the bare rounds, busy / idle / stolen (% of one core)': machineShares(
        machineOver(bareRounds.map((round) => round.machine)),
        sumOf(bareRounds.map((round) => round.seconds)),
      ),
      'API latency median / p99 (ms)': `${round(percentile(apiLatency, 0.5))} / ${round(percentile(apiLatency, 0.99))}`,
    };
  } finally {
    await bareShape?.close();
    await stack?.close();
    await pg.end();
    await backend.close();
  }
}

export async function benchEndToEnd(options: BenchOptions): Promise<BenchResult> {
  const messages = positiveInteger('--messages', options.messages ?? process.env.BENCH_MESSAGES, 500);
  const concurrency = positiveInteger('--concurrency', options.concurrency ?? process.env.BENCH_CONCURRENCY, 32);
  const chosen = options.backend;
  if (chosen !== undefined && !isBackendName(chosen)) throw new BenchConfigError(`--backend must be one of ${BACKENDS.join(', ')}, got "${chosen}"`);
  const backends: readonly BackendName[] = chosen ? [chosen] : BACKENDS;
  // The bare run's workers log at WARN, as the router's do.
  installTemporalRuntime();
  const columns: Record<string, BenchValue>[] = [];
  const backgroundNice = backgroundNiceFromEnv();
  for (const backend of backends) columns.push(await measureOn(backend, messages, concurrency, backgroundNice, options['cpu-prof']));
  const figures: Record<string, BenchValue[]> = {};
  for (const column of columns) {
    for (const [figure, value] of Object.entries(column)) (figures[figure] ??= []).push(value);
  }
  return {
    name:
      `end to end: ${messages} messages, ${concurrency} requests at a time, provider ${PROVIDER_TPS} tps / window ${PROVIDER_WINDOW}; ` +
      `API, worker and simulator each in its own process, client load and bare workers in this one; worker and Temporal at nice ${backgroundNice} for the router`,
    columns: backends.map((backend) => BACKEND_LABELS[backend]),
    figures,
  };
}
