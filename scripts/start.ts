/**
 * `npm start`: the whole router on this machine, in the shape production runs it. Starts (or reuses)
 * Temporal — the embedded dev server by default, the full server on PostgreSQL with
 * `--temporal=server` — runs the setup step, seeds the demo, then runs the provider simulator, the
 * workers and the REST API as separate processes, their lines prefixed by part. A part that exits
 * stops the whole run with a non-zero exit. Ctrl-C stops the API, then the workers, then the
 * simulator, then what Temporal it started, each within a bounded time.
 */
import { resolve } from 'node:path';
import { Client } from 'pg';
import { z } from 'zod';
import { DEFAULT_TEMPORAL_SERVER_PORTS, startTemporalPostgresServer } from './temporal-postgres';
import { DEFAULT_BACKGROUND_NICE, describeExit, PartProcess, PartStartError, type PartName } from './parts';
import { MigrationError } from './migrate';
import { runSetup } from './setup';
import { ConfigError, loadConfig, type Config } from '../src/config';
import { createDatabase } from '../src/db/client';
import { DEMO_API_KEY, DEMO_PROVIDERS, exportDemoCredentials, seedDemo } from '../src/dev/seed';
import { findTemporalCli, findTemporalTool, TEMPORAL_SERVER, TEMPORAL_SQL_TOOL, TEMPORAL_UI_SERVER } from '../src/dev/temporal-cli';
import { reniceTree } from '../src/dev/process-tree';
import { canConnect, startTemporalDevServer, type DevServer } from '../src/dev/temporal-server';
import { TemporalNotSetUpError } from '../src/temporal/namespace';

const startConfigSchema = z.object({
  /** The Temporal UI's port; 0 runs Temporal without it. */
  TEMPORAL_UI_PORT: z.coerce.number().int().min(0).max(65535).default(8233),
  /** The embedded dev server's state file. */
  TEMPORAL_DEV_DB: z.string().min(1).default(resolve(__dirname, '../.data/temporal.db')),
  /** The nice value of the workers and of the Temporal server it starts (BACKGROUND_PARTS); 0 = the API's own. */
  BACKGROUND_NICE: z.coerce.number().int().min(0).max(19).default(DEFAULT_BACKGROUND_NICE),
});

/**
 * How long each part may take to stop after SIGTERM before it is killed, in stop order. Their sum
 * stays under 15 s: a stop must end whatever a part is waiting on.
 */
const STOP_GRACE_MS: Readonly<Record<PartName | 'temporal', number>> = { api: 3_000, workers: 5_000, simulator: 2_000, temporal: 4_000 };
/** The order Ctrl-C stops them in: nothing new comes in, then what is in flight drains, then the providers go. */
const STOP_ORDER: readonly PartName[] = ['api', 'workers', 'simulator'];
/** Started in these steps: the API takes traffic only once something can route and deliver it. */
const START_STEPS: readonly (readonly PartName[])[] = [['simulator', 'workers'], ['api']];
const PART_NAMES: readonly PartName[] = START_STEPS.flat();
/**
 * The parts that yield the CPU to the API on a machine they share, with the Temporal server: a
 * provider waits on the API's acknowledgement of its delivery report and a client on its submit,
 * while nobody waits on a workflow task that runs a few milliseconds later (bench dlr-ack).
 */
const BACKGROUND_PARTS: readonly PartName[] = ['workers'];

type TemporalShape = 'dev' | 'server';

const say = (line: string) => process.stdout.write(`smsrouter: ${line}\n`);

function temporalShapeOf(args: readonly string[]): TemporalShape {
  for (const arg of args) {
    if (arg === '--temporal=server') return 'server';
    if (arg === '--temporal=dev') return 'dev';
    throw new ConfigError(`unknown argument ${arg} (expected --temporal=dev or --temporal=server)`);
  }
  return 'dev';
}

class Supervisor {
  private readonly parts = new Map<PartName, PartProcess>();
  private temporal: DevServer | undefined;
  private stopping: Promise<void> | undefined;

  /** BACKGROUND_NICE, once the configuration is read. */
  backgroundNice = 0;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  useTemporal(server: DevServer): void {
    this.temporal = server;
    if (server.pid !== undefined && this.backgroundNice > 0) {
      reniceTree(server.pid, this.backgroundNice);
      say(`Temporal server running (pid ${server.pid}, nice ${this.backgroundNice})`);
    }
    // Ctrl-C came while it was starting: the stop did not know about it.
    if (this.stopping) void this.stopping.then(() => server.stop(STOP_GRACE_MS.temporal));
    void server.exited.then(() => {
      if (this.stopping) return;
      say('the Temporal server exited; stopping the rest');
      void this.stop().then(() => process.exit(1));
    });
  }

  async startPart(name: PartName): Promise<void> {
    if (this.stopping) return;
    const width = Math.max(...PART_NAMES.map((part) => part.length));
    const nice = BACKGROUND_PARTS.includes(name) ? this.backgroundNice : 0;
    const part = new PartProcess(name, { env: this.env, nice, onLine: (line) => process.stdout.write(`${name.padEnd(width)} | ${line}\n`) });
    this.parts.set(name, part);
    await part.start();
    say(`${name} running (pid ${part.pid}${nice > 0 ? `, nice ${nice}` : ''})`);
    void part.exited.then((exit) => {
      if (this.stopping) return;
      say(`${name} exited (${describeExit(exit)}); stopping the rest`);
      void this.stop().then(() => process.exit(1));
    });
  }

  /** Stops everything once, in order; a part that does not stop in its grace time is killed. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const name of STOP_ORDER) {
        const part = this.parts.get(name);
        if (!part?.running) continue;
        const exit = await part.stop(STOP_GRACE_MS[name]);
        if (exit.killed) say(`${name} did not stop within ${STOP_GRACE_MS[name] / 1000} s; killed it`);
      }
      await this.temporal?.stop(STOP_GRACE_MS.temporal);
    })();
    return this.stopping;
  }

  /** A second Ctrl-C: no more waiting. */
  async killAll(): Promise<void> {
    for (const part of this.parts.values()) part.kill('SIGKILL');
    await this.temporal?.stop(0);
  }
}

async function startTemporal(shape: TemporalShape, config: Config, uiPort: number, devDbFile: string): Promise<DevServer | undefined> {
  const [host = '127.0.0.1', port = '7233'] = config.TEMPORAL_ADDRESS.split(':');
  if (await canConnect(Number(port), host)) {
    say(`using the Temporal server already listening on ${config.TEMPORAL_ADDRESS}`);
    return undefined;
  }
  // With payloads encrypted, the UI asks the API's ops listener to open them for whoever uses it.
  const uiCodecEndpoint = config.PAYLOAD_ENCRYPTION_KEY ? `http://${config.OPS_HOST}:${config.OPS_PORT}/codec` : undefined;
  const onLog = (chunk: string) => {
    for (const line of chunk.split('\n')) if (line.trim()) process.stdout.write(`temporal  | ${line}\n`);
  };
  if (shape === 'dev') {
    say(`starting the Temporal dev server (state in ${devDbFile})`);
    return startTemporalDevServer({ binary: findTemporalCli(), port: Number(port), uiPort, uiCodecEndpoint, dbFile: devDbFile, ownProcessGroup: true });
  }
  say('starting the Temporal server on PostgreSQL (databases temporal and temporal_visibility)');
  return startTemporalPostgresServer({
    serverBinary: findTemporalTool(TEMPORAL_SERVER),
    sqlTool: findTemporalTool(TEMPORAL_SQL_TOOL),
    uiBinary: uiPort > 0 ? findTemporalTool(TEMPORAL_UI_SERVER) : undefined,
    uiPort,
    uiCodecEndpoint,
    databaseServerUrl: config.DATABASE_URL,
    database: 'temporal',
    visibilityDatabase: 'temporal_visibility',
    ports: { ...DEFAULT_TEMPORAL_SERVER_PORTS, frontend: Number(port) },
    namespace: config.TEMPORAL_NAMESPACE,
    onLog,
    ownProcessGroup: true,
  });
}

async function main(supervisor: Supervisor): Promise<void> {
  const shape = temporalShapeOf(process.argv.slice(2));
  const config = loadConfig();
  const parsed = startConfigSchema.safeParse(process.env);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  const { TEMPORAL_UI_PORT: uiPort, TEMPORAL_DEV_DB: devDbFile, BACKGROUND_NICE: backgroundNice } = parsed.data;
  supervisor.backgroundNice = backgroundNice;

  let stopRequests = 0;
  const onSignal = () => {
    stopRequests += 1;
    if (stopRequests > 1) {
      say('stopping now');
      void supervisor.killAll().then(() => process.exit(130));
      return;
    }
    say('stopping');
    void supervisor.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  await assertPostgresReachable(config.DATABASE_URL);
  const temporal = await startTemporal(shape, config, uiPort, devDbFile);
  if (temporal) supervisor.useTemporal(temporal);

  say(`setup: migrations on ${redact(config.DATABASE_URL)}, namespace ${config.TEMPORAL_NAMESPACE}, search attributes`);
  await runSetup(config, (line) => say(`setup: ${line}`));
  const simulatorUrl = `http://127.0.0.1:${config.SIMULATOR_PORT}`;
  const db = createDatabase(config.DATABASE_URL);
  await seedDemo(db, simulatorUrl);
  await db.$disconnect();

  for (const step of START_STEPS) await Promise.all(step.map((part) => supervisor.startPart(part)));

  const apiUrl = `http://${config.API_HOST}:${config.API_PORT}`;
  say(`REST API         ${apiUrl}`);
  say(`metrics          http://${config.OPS_HOST}:${config.OPS_PORT}/metrics`);
  say(`Temporal server  ${config.TEMPORAL_ADDRESS}${shape === 'server' ? ' (full server on PostgreSQL)' : ''}`);
  if (uiPort > 0) say(`Temporal UI      http://127.0.0.1:${uiPort}`);
  say(`simulator        ${simulatorUrl} (providers: ${DEMO_PROVIDERS.map((p) => p.id).join(', ')}; stats at ${simulatorUrl}/_control/stats)`);
  say('ready. Send a message:');
  process.stdout.write(
    `\ncurl -s -X POST ${apiUrl}/v1/messages \\\n` +
      `  -H 'Authorization: Bearer ${DEMO_API_KEY}' -H 'Content-Type: application/json' \\\n` +
      `  -d '{"to":"+4520123456","from":"Acme","body":"Hello from smsrouter"}'\n\n` +
      `then: curl -s ${apiUrl}/v1/messages/<id> -H 'Authorization: Bearer ${DEMO_API_KEY}'\n\n`,
  );
}

/** Both shapes need PostgreSQL (the full server for its own state): say so first, with the URL tried. */
async function assertPostgresReachable(databaseUrl: string): Promise<void> {
  const client = new Client({ connectionString: Object.assign(new URL(databaseUrl), { pathname: '/postgres' }).toString() });
  try {
    await client.connect();
  } catch (error) {
    if (isConnectionError(error)) {
      throw new ConfigError(`PostgreSQL is not reachable at ${redact(databaseUrl)} (${describe(error)}); start it or set DATABASE_URL`);
    }
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function describe(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(describe).join(', ');
  return error instanceof Error ? error.message || error.name : String(error);
}

function isConnectionError(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  return ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', '28P01', '3D000'].includes(code);
}

// The parts' processes inherit the demo credentials, and the demo's client endpoints (a local
// webhook tester) live on loopback.
exportDemoCredentials();
process.env.CALLBACK_ALLOW_PRIVATE ??= 'true';
const supervisor = new Supervisor(process.env);
main(supervisor).catch(async (error: unknown) => {
  const known = [ConfigError, PartStartError, MigrationError, TemporalNotSetUpError].some((type) => error instanceof type);
  if (known) say((error as Error).message);
  else console.error(error);
  if (error instanceof PartStartError) process.stdout.write(`${error.output}\n`);
  await supervisor.stop();
  process.exit(1);
});
