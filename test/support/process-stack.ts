import { Client, Connection } from '@temporalio/client';
import { runSetup } from '../../scripts/setup';
import { PartProcess, type PartExit, type PartName } from '../../scripts/parts';
import { loadConfig, type Config } from '../../src/config';
import { createDatabase, type Database } from '../../src/db/client';
import { seedDemoAccount } from '../../src/dev/seed';
import type { SimulatedProviderBehaviour } from '../../src/simulator/server';
import { dropDatabase, throwawayDatabaseUrl } from './database';
import { credentialsRefOf, insertProvider, type ProviderRows } from './provider-rows';
import { freePort } from './stack';

/** A provider the simulator process mounts, with its row and routes in the stack's database. */
export interface ProcessStackProvider extends ProviderRows {
  readonly credentials: Readonly<Record<string, string>>;
  readonly behaviour?: Partial<SimulatedProviderBehaviour>;
}

export interface ProcessStackOptions {
  /** A Temporal frontend; the setup step creates the namespace and search attributes there when missing. */
  readonly temporalAddress: string;
  readonly providers: readonly ProcessStackProvider[];
  /** How many worker processes; each runs the router and every provider's dispatch worker. Default 1. */
  readonly workerProcesses?: number;
  /** The PostgreSQL server the stack's throwaway database lives on; default the tests' shared one. */
  readonly databaseServerUrl?: string;
  /** More environment for every part. */
  readonly env?: NodeJS.ProcessEnv;
  /** Options for node in every part (PartOptions.nodeArgs). */
  readonly nodeArgs?: readonly string[];
  /** The worker processes' nice value (PartOptions.nice), as npm start's BACKGROUND_NICE; default 0. */
  readonly workerNice?: number;
}

/**
 * The router as production runs it: the setup step, then the provider simulator, the worker
 * process(es) and the API each in its own OS process, on a throwaway database. Parts can be
 * killed (a crash) and restarted one by one.
 */
export interface ProcessStack {
  readonly config: Config;
  /** The environment every part runs with. */
  readonly env: NodeJS.ProcessEnv;
  readonly db: Database;
  readonly connection: Connection;
  readonly temporal: Client;
  readonly apiUrl: string;
  readonly simulatorUrl: string;
  readonly api: PartProcess;
  readonly simulator: PartProcess;
  readonly workers: readonly PartProcess[];
  /** Sends `signal` (default SIGKILL: a crash) to one part and resolves once it is gone. */
  kill(part: PartName, index?: number, signal?: NodeJS.Signals): Promise<PartExit>;
  /** Stops the part if it runs (SIGTERM, killed after 5 s), then starts it again and waits until it is ready. */
  restart(part: PartName, index?: number): Promise<void>;
  /** One more worker process, ready when this resolves. */
  addWorkerProcess(): Promise<PartProcess>;
  close(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;

/** How the stack's own database connections (`ProcessStack.db`) show in pg_stat_activity: not the router's. */
export const STACK_CLIENT_APPLICATION = 'smsrouter-stack-client';

function stackClientUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', STACK_CLIENT_APPLICATION);
  return url.toString();
}

export async function startProcessStack(options: ProcessStackOptions): Promise<ProcessStack> {
  const databaseServer = options.databaseServerUrl === undefined ? undefined : new URL(options.databaseServerUrl);
  const { name: databaseName, url: databaseUrl } = throwawayDatabaseUrl('process', databaseServer);
  const [apiPort, simulatorPort] = [await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const simulatorUrl = `http://127.0.0.1:${simulatorPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: options.temporalAddress,
    API_PORT: String(apiPort),
    // Any free port: several API processes, and an npm start, may run at once.
    OPS_PORT: '0',
    PUBLIC_BASE_URL: apiUrl,
    SIMULATOR_PORT: String(simulatorPort),
    SIMULATOR_PROVIDERS: JSON.stringify(
      options.providers.map((provider) => ({ name: provider.id, dialect: provider.dialect, credentials: provider.credentials, behaviour: provider.behaviour })),
    ),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...Object.fromEntries(options.providers.map((provider) => [credentialsRefOf(provider.id), JSON.stringify(provider.credentials)])),
    ...options.env,
  };
  const config = loadConfig(env);
  await runSetup(config, () => undefined);
  const db = createDatabase(stackClientUrl(databaseUrl));
  await seedDemoAccount(db);
  for (const provider of options.providers) await insertProvider(db, provider, `${simulatorUrl}/${provider.id}`);

  const echo = process.env.PROCESS_STACK_LOG ? (name: string) => (line: string) => process.stderr.write(`${name} | ${line}\n`) : () => undefined;
  const newPart = (name: PartName, label: string = name) =>
    new PartProcess(name, { env, onLine: echo(label), nodeArgs: options.nodeArgs, nice: name === 'workers' ? options.workerNice : undefined });
  const simulator = newPart('simulator');
  const api = newPart('api');
  const workers = Array.from({ length: options.workerProcesses ?? 1 }, (_, index) => newPart('workers', `workers#${index}`));
  const all = () => [api, ...workers, simulator];
  const connection = await Connection.connect({ address: options.temporalAddress });

  const close = async () => {
    for (const part of all()) await part.stop(STOP_GRACE_MS);
    await connection.close();
    await db.$disconnect();
    await dropDatabase(databaseName, databaseServer);
  };
  try {
    await simulator.start();
    await Promise.all(workers.map((part) => part.start()));
    await api.start();
  } catch (error) {
    await close();
    throw error;
  }

  const partOf = (name: PartName, index = 0): PartProcess => {
    const part = name === 'api' ? api : name === 'simulator' ? simulator : workers[index];
    if (!part) throw new Error(`no ${name} process #${index}`);
    return part;
  };
  return {
    config,
    env,
    db,
    connection,
    temporal: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }),
    apiUrl,
    simulatorUrl,
    api,
    simulator,
    workers,
    async kill(name, index, signal = 'SIGKILL') {
      const part = partOf(name, index);
      part.kill(signal);
      return part.exited;
    },
    async restart(name, index) {
      const part = partOf(name, index);
      await part.stop(STOP_GRACE_MS);
      await part.start();
    },
    async addWorkerProcess() {
      const part = newPart('workers', `workers#${workers.length}`);
      workers.push(part);
      await part.start();
      return part;
    },
    close,
  };
}
