import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../domain/search-attributes';

export interface DevServerOptions {
  /** Path of the `temporal` CLI binary. */
  readonly binary: string;
  readonly port: number;
  /** 0 disables the Web UI. */
  readonly uiPort: number;
  /** SQLite file; omitted = in memory, gone when the server stops. */
  readonly dbFile?: string;
  /** Where the server's own log goes; omitted = discarded. */
  readonly onLog?: (line: string) => void;
  /**
   * Run it in a process group of its own, so that Ctrl-C in a terminal reaches only this process,
   * which then stops it when it chooses (npm start stops Temporal last). Default: the caller's group.
   */
  readonly ownProcessGroup?: boolean;
  /** The codec endpoint the UI decodes payloads with (PAYLOAD_ENCRYPTION_KEY); omitted = none. */
  readonly uiCodecEndpoint?: string;
  /** `--sqlite-pragma` values for the state file; omitted = SQLITE_PRAGMAS. */
  readonly sqlitePragmas?: readonly string[];
}

/**
 * More workflows per second, 2× to 5× on a small machine (bench/dev-server-sqlite.ts). The trade:
 * an OS crash or power loss may lose the last moments of Temporal state; a crash of the server
 * process loses nothing, the WAL being on disk.
 */
export const SQLITE_PRAGMAS: readonly string[] = ['journal_mode=wal', 'synchronous=normal'];

export interface DevServer {
  readonly address: string;
  /** The server's OS process (for CPU figures); the UI, when one runs, is not it. */
  readonly pid?: number;
  /** Resolves when the server process (or one of its processes) ends, for whatever reason. */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL once `graceMs` (default 10 s) passed. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The dynamic config every shape runs with (the full server and docker-compose read the file itself).
 * The task-queue rate limit is divided among the queue's partitions; with the default four, a low
 * provider TPS is enforced coarsely. One partition makes `maxTaskQueueActivitiesPerSecond` exact,
 * and every worker must see the same value (the last poller's setting wins).
 */
export const DYNAMIC_CONFIG_FILE = resolve(__dirname, '../../deploy/temporal-dynamicconfig.yaml');

const dynamicConfigFileSchema = z.record(z.string(), z.array(z.object({ value: z.unknown(), constraints: z.unknown().optional() })).min(1));

/** The file's unconstrained values as `--dynamic-config-value KEY=JSON` arguments of the dev server. */
export function dynamicConfigValues(file = DYNAMIC_CONFIG_FILE): string[] {
  const settings = dynamicConfigFileSchema.parse(parse(readFileSync(file, 'utf8')));
  return Object.entries(settings).flatMap(([key, entries]) =>
    entries.filter((entry) => entry.constraints === undefined).map((entry) => `${key}=${JSON.stringify(entry.value)}`),
  );
}

export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port), '--log-level', 'warn'];
  if (options.uiPort > 0) args.push('--ui-port', String(options.uiPort));
  if (options.uiPort > 0 && options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  else args.push('--headless');
  if (options.dbFile) {
    mkdirSync(dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
    for (const pragma of options.sqlitePragmas ?? SQLITE_PRAGMAS) args.push('--sqlite-pragma', pragma);
  }
  for (const value of dynamicConfigValues()) args.push('--dynamic-config-value', value);
  for (const value of SEARCH_ATTRIBUTE_REGISTRATIONS) args.push('--search-attribute', value);

  const server = spawnServerProcess(options.binary, args, { onLog: options.onLog, ownProcessGroup: options.ownProcessGroup });
  const address = `127.0.0.1:${options.port}`;
  await server.listening(options.port, `Temporal dev server did not start on ${address} (is the port taken?)`);
  return { address, pid: server.pid, exited: server.exited.then(() => undefined), stop: (graceMs) => server.stop(graceMs) };
}

/** A server that exited, or never listened, during start-up; `output` is the end of what it printed. */
export class ServerStartError extends Error {
  override readonly name = 'ServerStartError';
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(output ? `${message}; it printed:\n${output}` : message);
  }
}

/** How much of a server's output a start-up failure shows. */
const START_OUTPUT_CHARS = 4_000;

/** A server binary run as a child process of this one. */
export interface ServerProcess {
  readonly pid: number | undefined;
  /** Resolves with the exit code when the process ends. */
  readonly exited: Promise<number | null>;
  /** Resolves once `port` accepts connections; fails with ServerStartError (and kills the process) if it exits first or takes over a minute. */
  listening(port: number, failure: string): Promise<void>;
  /** SIGTERM, then SIGKILL once `graceMs` (default 10 s) passed. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnServerProcess(
  binary: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; onLog?: (line: string) => void; ownProcessGroup?: boolean } = {},
): ServerProcess {
  const child = spawn(binary, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
    detached: options.ownProcessGroup ?? false,
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      output = (output + text).slice(-START_OUTPUT_CHARS);
      options.onLog?.(text);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid,
    exited,
    async listening(port, failure) {
      let ended = false;
      const ready = await Promise.race([
        waitForPort(port, 60_000, () => ended),
        exited.then(() => {
          ended = true;
          return false;
        }),
      ]);
      if (!ready) {
        child.kill('SIGKILL');
        throw new ServerStartError(failure, output.trim());
      }
    },
    stop: (graceMs = 10_000) => stopChild(child, exited, graceMs),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Polls until `port` accepts connections (true), `timeoutMs` passed or `abandoned()` says so (false). */
export async function waitForPort(port: number, timeoutMs: number, abandoned: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !abandoned()) {
    if (await canConnect(port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
