import { randomBytes, randomInt } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { dropDatabase, serverUrl } from './database';
import { startTemporalPostgresServer, type TemporalServerPorts } from '../../scripts/temporal-postgres';
import type { DevServer } from '../../src/dev/temporal-server';
import { findTemporalTool, TEMPORAL_SERVER, TEMPORAL_SQL_TOOL } from '../../src/dev/temporal-cli';

const run = promisify(execFile);

export interface TestTemporalServer extends DevServer {
  /** kill -9 of the server process: a crash, its state left in PostgreSQL as it was. */
  kill(): Promise<void>;
  /** Starts the server again on the same databases and ports. */
  start(): Promise<void>;
  /** Its PostgreSQL databases (history, visibility), for a benchmark that counts their cost. */
  readonly databases: readonly string[];
  /** Stops the server and drops its throwaway databases. */
  close(): Promise<void>;
}

/**
 * The full Temporal server on throwaway PostgreSQL databases and free ports, so it never meets a
 * running `npm start` (which uses `temporal`, `temporal_visibility` and 7233). No UI.
 */
export async function startTestTemporalServer(options: { readonly ownProcessGroup?: boolean } = {}): Promise<TestTemporalServer> {
  const suffix = randomBytes(4).toString('hex');
  const database = `temporal_test_${suffix}`;
  const visibilityDatabase = `temporal_visibility_test_${suffix}`;
  const ports: TemporalServerPorts = {
    frontend: await freeLowPort(),
    frontendHttp: await freeLowPort(),
    frontendMembership: await freeLowPort(),
    history: await freeLowPort(),
    historyMembership: await freeLowPort(),
    matching: await freeLowPort(),
    matchingMembership: await freeLowPort(),
    worker: await freeLowPort(),
    workerMembership: await freeLowPort(),
  };
  const logs: string[] = [];
  const dropBoth = async () => {
    await dropDatabase(database);
    await dropDatabase(visibilityDatabase);
  };
  const serverBinary = findTemporalTool(TEMPORAL_SERVER);
  const start = () =>
    startTemporalPostgresServer({
      serverBinary,
      sqlTool: findTemporalTool(TEMPORAL_SQL_TOOL),
      databaseServerUrl: serverUrl().toString(),
      database,
      visibilityDatabase,
      ports,
      // The machine's PostgreSQL serves every test stack at once; its connection limit is shared.
      maxConnections: { history: 8, visibility: 2 },
      ownProcessGroup: options.ownProcessGroup,
      onLog: (line) => { logs.push(line); if (process.env.TEMPORAL_TEST_LOG) process.stderr.write(line); },
    });
  let server: DevServer;
  try {
    server = await start();
  } catch (error) {
    await dropBoth();
    throw new Error(`${String(error)}\n${logs.join('').slice(-4000)}`);
  }
  return {
    address: server.address,
    get exited() {
      return server.exited;
    },
    get pid() {
      return server.pid;
    },
    databases: [database, visibilityDatabase],
    stop: (graceMs) => server.stop(graceMs),
    async kill() {
      // Our own child running the server binary: other tests on this machine run servers too.
      const { stdout } = await run('pgrep', ['-P', String(process.pid), '-f', serverBinary]);
      for (const pid of stdout.split('\n').filter(Boolean).map(Number)) process.kill(pid, 'SIGKILL');
      await server.exited;
    },
    async start() {
      server = await start();
    },
    async close() {
      await server.stop();
      await dropBoth();
    },
  };
}

/**
 * A free port below the kernel's ephemeral range: the server stores membership ports in a
 * PostgreSQL smallint (at most 32767), and the OS hands out free ports above that.
 */
async function freeLowPort(): Promise<number> {
  for (;;) {
    const port = randomInt(20_000, 32_000);
    if (await isFree(port)) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
