/**
 * The full Temporal server (v1.29.1) on PostgreSQL, with its UI: the production shape of Temporal,
 * run by `npm start -- --temporal=server` and by the production-shape tests. Its configuration is
 * deploy/temporal/postgres.yaml (and deploy/temporal/ui/local.yaml); everything that differs between
 * a run and another (databases, ports) reaches those templates through the environment.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { ensureDatabase } from './migrate';
import { DYNAMIC_CONFIG_FILE, spawnServerProcess, type DevServer, type ServerProcess } from '../src/dev/temporal-server';

const run = promisify(execFile);
const REPO_ROOT = resolve(__dirname, '..');

/** Every port one server process listens on; tests take free ones so they never meet `npm start`. */
export interface TemporalServerPorts {
  readonly frontend: number;
  readonly frontendHttp: number;
  readonly frontendMembership: number;
  readonly history: number;
  readonly historyMembership: number;
  readonly matching: number;
  readonly matchingMembership: number;
  readonly worker: number;
  readonly workerMembership: number;
}

/** The ones of deploy/temporal/postgres.yaml. */
export const DEFAULT_TEMPORAL_SERVER_PORTS: TemporalServerPorts = {
  frontend: 7233,
  frontendHttp: 7243,
  frontendMembership: 6933,
  history: 7234,
  historyMembership: 6934,
  matching: 7235,
  matchingMembership: 6935,
  worker: 7239,
  workerMembership: 6939,
};

export interface PostgresTemporalOptions {
  readonly serverBinary: string;
  readonly sqlTool: string;
  /** The UI server binary; omitted, no UI. */
  readonly uiBinary?: string;
  readonly uiPort?: number;
  /** Any URL of the PostgreSQL server (its host, port, user and password are used). */
  readonly databaseServerUrl: string;
  readonly database: string;
  readonly visibilityDatabase: string;
  readonly ports: TemporalServerPorts;
  readonly namespace?: string;
  /** The codec endpoint the UI decodes payloads with (PAYLOAD_ENCRYPTION_KEY); omitted = none. */
  readonly uiCodecEndpoint?: string;
  /** Where the servers' own logs go; omitted = discarded. */
  readonly onLog?: (line: string) => void;
  /** As DevServerOptions.ownProcessGroup. */
  readonly ownProcessGroup?: boolean;
  /** Most PostgreSQL connections of the history store and of visibility; omitted = the config's 20 and 4. */
  readonly maxConnections?: { readonly history: number; readonly visibility: number };
}

/** The embedded schemas of the sql tool, per database. */
const SCHEMAS = [
  { database: (options: PostgresTemporalOptions) => options.database, schemaName: 'postgresql/v12/temporal' },
  { database: (options: PostgresTemporalOptions) => options.visibilityDatabase, schemaName: 'postgresql/v12/visibility' },
] as const;

/**
 * Creates both databases when missing, sets their schemas up once and updates them to the server's
 * version (the sql tool applies only the versions a database lacks). Safe to run on every start.
 */
export async function setUpTemporalSchemas(options: PostgresTemporalOptions): Promise<void> {
  const server = new URL(options.databaseServerUrl);
  const connectArgs = ['--plugin', 'postgres12', '--ep', server.hostname, '-p', server.port || '5432', '-u', decodeURIComponent(server.username || 'postgres')];
  if (server.password) connectArgs.push('--pw', decodeURIComponent(server.password));
  for (const schema of SCHEMAS) {
    const database = schema.database(options);
    const url = Object.assign(new URL(options.databaseServerUrl), { pathname: `/${database}`, search: '' }).toString();
    await ensureDatabase(url);
    // setup-schema writes version 0.0: run on a database that has a schema, it would make
    // update-schema apply every version again over existing tables.
    if (!(await hasSchemaVersion(url))) await run(options.sqlTool, [...connectArgs, '--db', database, 'setup-schema', '-v', '0.0']);
    await run(options.sqlTool, [...connectArgs, '--db', database, 'update-schema', '--schema-name', schema.schemaName]);
  }
}

async function hasSchemaVersion(databaseUrl: string): Promise<boolean> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ exists: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_version') AS exists`,
    );
    return result.rows[0]?.exists === true;
  } finally {
    await client.end();
  }
}

/** The environment deploy/temporal/postgres.yaml and deploy/temporal/ui/local.yaml are rendered with. */
function templateEnv(options: PostgresTemporalOptions): NodeJS.ProcessEnv {
  const server = new URL(options.databaseServerUrl);
  const { ports } = options;
  return {
    ...process.env,
    TEMPORAL_DB: options.database,
    TEMPORAL_VISIBILITY_DB: options.visibilityDatabase,
    TEMPORAL_DB_ADDRESS: `${server.hostname}:${server.port || '5432'}`,
    TEMPORAL_DB_USER: decodeURIComponent(server.username || 'postgres'),
    TEMPORAL_DB_PASSWORD: decodeURIComponent(server.password),
    TEMPORAL_DYNAMIC_CONFIG_FILE: DYNAMIC_CONFIG_FILE,
    TEMPORAL_FRONTEND_PORT: String(ports.frontend),
    TEMPORAL_FRONTEND_HTTP_PORT: String(ports.frontendHttp),
    TEMPORAL_FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
    TEMPORAL_HISTORY_PORT: String(ports.history),
    TEMPORAL_HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
    TEMPORAL_MATCHING_PORT: String(ports.matching),
    TEMPORAL_MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
    TEMPORAL_WORKER_PORT: String(ports.worker),
    TEMPORAL_WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.frontend}`,
    TEMPORAL_UI_PORT: String(options.uiPort ?? 0),
    TEMPORAL_CODEC_ENDPOINT: options.uiCodecEndpoint ?? '',
    TEMPORAL_NAMESPACE: options.namespace ?? 'default',
    ...(options.maxConnections && {
      TEMPORAL_DB_MAX_CONNS: String(options.maxConnections.history),
      TEMPORAL_VISIBILITY_DB_MAX_CONNS: String(options.maxConnections.visibility),
    }),
  };
}

/**
 * Sets the schemas up, then runs the server (and the UI, when asked for) until `stop()`. Resolves
 * once the frontend (and the UI) accept connections; the namespace is the setup step's business.
 */
export async function startTemporalPostgresServer(options: PostgresTemporalOptions): Promise<DevServer> {
  await setUpTemporalSchemas(options);
  const env = templateEnv(options);
  const address = `127.0.0.1:${options.ports.frontend}`;
  const server = spawnServerProcess(options.serverBinary, ['--root', REPO_ROOT, '--config', 'deploy/temporal', '--env', 'postgres', 'start'], {
    env,
    cwd: REPO_ROOT,
    onLog: options.onLog,
    ownProcessGroup: options.ownProcessGroup,
  });
  const started: ServerProcess[] = [server];
  const stop = async (graceMs?: number) => {
    for (const part of [...started].reverse()) await part.stop(graceMs);
  };
  try {
    await server.listening(options.ports.frontend, `Temporal server did not start on ${address} (is a port taken?)`);
    if (options.uiBinary && options.uiPort) {
      const ui = spawnServerProcess(options.uiBinary, ['--root', REPO_ROOT, '--config', 'deploy/temporal/ui', '--env', 'local', 'start'], {
        env,
        cwd: REPO_ROOT,
        onLog: options.onLog,
        ownProcessGroup: options.ownProcessGroup,
      });
      started.push(ui);
      await ui.listening(options.uiPort, `Temporal UI did not start on port ${options.uiPort} (is the port taken?)`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { address, pid: server.pid, exited: Promise.race(started.map((part) => part.exited)).then(() => undefined), stop };
}
