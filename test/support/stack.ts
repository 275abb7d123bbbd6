import { createServer } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { applyMigrations } from '../../scripts/migrate';
import { payloadDataConverter } from '../../src/codec';
import { mapConcurrently } from '../../src/concurrency';
import { dropDatabase, throwawayDatabaseUrl } from './database';
import { credentialsRefOf, insertProvider, type ProviderRows } from './provider-rows';
import { startApi, type RunningApi } from '../../src/api/main';
import { loadConfig, type Config } from '../../src/config';
import { createDatabase, type Database } from '../../src/db/client';
import { DEMO_PROVIDERS, exportDemoCredentials, seedDemoAccount } from '../../src/dev/seed';
import { findTemporalCli } from '../../src/dev/temporal-cli';
import { ServerStartError, startTemporalDevServer, type DevServer, type DevServerOptions } from '../../src/dev/temporal-server';
import { createLogger } from '../../src/logger';
import { ProviderSimulator, type SimulatedProviderBehaviour, type SimulatedProviderOptions } from '../../src/simulator/server';
import { startWorkers, type RunningWorkers } from '../../src/workers/main';
import { workflowBundleSettings } from '../../src/workers/workflow-bundle';
import { statusQuery } from '../../src/workflows';

export interface TestStack {
  readonly config: Config;
  readonly db: Database;
  readonly temporal: Client;
  readonly simulator: ProviderSimulator;
  readonly api: RunningApi;
  workers: RunningWorkers;
  /** A simulated provider, its Provider row and its routes, ready to take traffic when this resolves. */
  addProvider(provider: TestProvider): Promise<void>;
  /** After a change to providers or routes: the API (which routes at acceptance) and the workers read it now. */
  refreshCatalogs(): Promise<void>;
  /** Stops and starts the worker process's part, as a crash and restart would. */
  restartWorkers(): Promise<void>;
  close(): Promise<void>;
}

export interface TestProvider extends ProviderRows {
  readonly credentials: Readonly<Record<string, string>>;
  readonly behaviour?: Partial<SimulatedProviderBehaviour>;
  /** A provider served elsewhere (a simulator in its own process); the in-process simulator is not used. */
  readonly baseUrl?: string;
  /** The in-process simulator already mounts it. */
  readonly alreadySimulated?: boolean;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Tries before a start-up that keeps losing its port is a failure. */
const DEV_SERVER_START_ATTEMPTS = 3;

/**
 * A Temporal dev server on a free port, in memory unless `dbFile` is given. The port freePort found
 * can be taken by any process on the machine before the server binds it (tests and benchmarks run
 * beside other work), so a server that exits during start-up is started again on another one; one
 * that keeps failing is the caller's failure, with what it printed.
 */
export async function startTestDevServer(options: Pick<DevServerOptions, 'dbFile' | 'ownProcessGroup' | 'sqlitePragmas'> = {}): Promise<DevServer> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startTemporalDevServer({ ...options, binary: findTemporalCli(), port: await freePort(), uiPort: 0 });
    } catch (error) {
      if (!(error instanceof ServerStartError) || attempt >= DEV_SERVER_START_ATTEMPTS) throw error;
      process.stderr.write(`Temporal dev server start ${attempt} of ${DEV_SERVER_START_ATTEMPTS} failed, trying another port: ${error.message}\n`);
    }
  }
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ ...workflowBundleSettings(loadConfig().WORKFLOW_STACK_TRACES), logger: new DefaultLogger('WARN') });
  return bundle;
}

/**
 * The whole router on this machine: a real Temporal dev server (in memory), a fresh PostgreSQL
 * database with the migrations applied and the demo data seeded, the simulator, workers and API.
 */
export interface StackOptions {
  readonly providers?: readonly SimulatedProviderOptions[];
  /** False: the in-process workers route but dispatch nothing (a test brings its own dispatchers). */
  readonly dispatch?: boolean;
  /** Configuration the test changes (e.g. a short SUBMIT_TIMEOUT_SECONDS). */
  readonly env?: Readonly<Record<string, string>>;
}

export async function startStack(options: StackOptions = {}): Promise<TestStack> {
  const { name: databaseName, url: databaseUrl } = throwawayDatabaseUrl('test');
  await applyMigrations(databaseUrl, { log: () => undefined });

  const devServer = await startTestDevServer();

  exportDemoCredentials();
  const simulator = new ProviderSimulator({
    providers:
      options.providers ??
      DEMO_PROVIDERS.map((provider) => ({ name: provider.id, dialect: provider.adapter, credentials: provider.credentials })),
  });
  await simulator.start();

  const apiPort = await freePort();
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: devServer.address,
    API_PORT: String(apiPort),
    OPS_PORT: '0',
    // Test clients' callback endpoints listen on loopback.
    CALLBACK_ALLOW_PRIVATE: 'true',
    PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    DISPATCH_WORKERS: String(options.dispatch ?? true),
    ...options.env,
  });
  const db = createDatabase(databaseUrl);
  await seedDemoAccount(db);

  const logger = createLogger(config.LOG_LEVEL, 'test');
  const api = await startApi(config, logger);
  const startWorkerSet = async () => startWorkers(config, logger, { workflowBundle: await workflowBundle() });
  const connection = await Connection.connect({ address: devServer.address });
  // Reads payloads as the router's own clients do: encrypted when the stack runs with a key.
  const temporal = new Client({ connection, dataConverter: payloadDataConverter(config.PAYLOAD_ENCRYPTION_KEY) });

  const stack: TestStack = {
    config,
    db,
    temporal,
    simulator,
    api,
    workers: await startWorkerSet(),
    async addProvider(provider) {
      process.env[credentialsRefOf(provider.id)] = JSON.stringify(provider.credentials);
      if (!provider.baseUrl && !provider.alreadySimulated) {
        simulator.addProvider({ name: provider.id, dialect: provider.dialect, credentials: provider.credentials, behaviour: provider.behaviour });
      }
      await insertProvider(db, provider, provider.baseUrl ?? simulator.baseUrlOf(provider.id));
      await stack.refreshCatalogs();
      if (config.DISPATCH_WORKERS) {
        await eventually(async () => (stack.workers.dispatch.providerIds.includes(provider.id) ? true : undefined), 10_000, `dispatch worker for ${provider.id}`);
      }
    },
    async refreshCatalogs() {
      await Promise.all([stack.workers.catalog.refresh(), api.catalog.refresh()]);
    },
    async restartWorkers() {
      await stack.workers.shutdown();
      stack.workers = await startWorkerSet();
    },
    async close() {
      await stack.workers.shutdown();
      await api.close();
      await simulator.close();
      await connection.close();
      await devServer.stop();
      await db.$disconnect();
      await dropDatabase(databaseName);
    },
  };
  // One provider for every destination: tests add their own providers and routes on top.
  if (!options.providers) {
    const [generic] = DEMO_PROVIDERS;
    if (generic) {
      await stack.addProvider({ id: generic.id, dialect: generic.adapter, credentials: generic.credentials, routes: [{ prefix: '*' }], dlrTimeoutSeconds: 60, tps: 50, window: 20, alreadySimulated: true });
    }
  }
  return stack;
}

/**
 * Polls until `check` returns a value, or fails naming `what`; a function is read at the deadline,
 * so it can say what was seen by then (a child's output, say).
 */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what: string | (() => string) = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits until every message's workflow says `routed`: its submit is scheduled in its provider's
 * queue. Routed at acceptance, a message has no row in PostgreSQL until that submit runs, so its
 * workflow is asked.
 */
export async function everyMessageRouted(temporal: Client, ids: readonly string[], timeoutMs = 120_000): Promise<void> {
  await eventually(
    async () => {
      const states = await mapConcurrently(ids, 32, (id) => temporal.workflow.getHandle(id).query(statusQuery));
      return states.every((state) => state.status === 'routed') ? true : undefined;
    },
    timeoutMs,
    'every message routed',
  );
}
