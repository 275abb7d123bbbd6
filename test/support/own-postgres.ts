import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './stack';

const run = promisify(execFile);
const BIN = process.env.POSTGRES_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
/** PostgreSQL refuses to run as root; as root, its tools run as this user (the packaged server's). */
const SERVER_USER = 'postgres';

/** Runs one of PostgreSQL's tools, as SERVER_USER when we are root. */
async function pgTool(tool: string, args: readonly string[]): Promise<void> {
  const env = { ...process.env, LC_ALL: 'C' };
  if (process.getuid?.() === 0) await run('runuser', ['-u', SERVER_USER, '--', join(BIN, tool), ...args], { env });
  else await run(join(BIN, tool), [...args], { env });
}

/** Hands the data directory to SERVER_USER when we are root. */
async function ownDirectory(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const [uid, gid] = await Promise.all(['-u', '-g'].map(async (flag) => Number((await run('id', [flag, SERVER_USER])).stdout.trim())));
  chownSync(dir, uid ?? 0, gid ?? 0);
}

/**
 * A PostgreSQL server of the test's own, in a temporary data directory on a free port, so that a
 * fault test can stop, restart and kill it: the machine's shared PostgreSQL serves other tests and
 * must never go down. Trust authentication, user `postgres`, no TCP but 127.0.0.1.
 */
export interface OwnPostgres {
  /** postgres://postgres@127.0.0.1:<port>/<database>. */
  urlOf(database: string): string;
  /** Clean stop (fast mode: open sessions are ended, nothing committed is lost). */
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** kill -9 of the postmaster: a crash, recovered from the WAL on the next start. */
  kill(): Promise<void>;
  /** Stops the server and removes its data directory. */
  close(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'smsrouter-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  await ownDirectory(dir);
  await pgTool('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  // The socket directory is ours too: the default one belongs to the shared server.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const pgCtl = (...args: string[]) => pgTool('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', ...args]);
  const start = async () => {
    await pgCtl('-o', options, 'start');
  };
  const stop = async () => {
    await pgCtl('-m', 'fast', 'stop');
  };
  await start();
  return {
    urlOf: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    start,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async kill() {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      // The whole server at once, as a machine crash takes it: a lone postmaster's children would linger.
      const children = (await run('pgrep', ['-P', String(pid)]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean).map(Number);
      for (const target of [pid, ...children]) process.kill(target, 'SIGKILL');
      while ([pid, ...children].some(isAlive)) await new Promise((resolve) => setTimeout(resolve, 100));
    },
    async close() {
      await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
