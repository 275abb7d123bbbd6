/**
 * The router's parts as separate OS processes, the way production runs them: the API, the workers
 * and the provider simulator. Used by `npm start` (scripts/start.ts) and by the process tests
 * (test/support/process-stack.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { reniceTree } from '../src/dev/process-tree';

export type PartName = 'api' | 'workers' | 'simulator';

/** Each part's entry point, relative to the repository (or to dist/ once built). */
export const PART_ENTRIES: Readonly<Record<PartName, string>> = {
  api: 'src/api/main',
  workers: 'src/workers/main',
  simulator: 'src/simulator/main',
};

const REPO_ROOT = resolve(__dirname, '..');

/**
 * The nice value npm start gives the workers and the Temporal server (BACKGROUND_NICE), the API
 * keeping its own: on a shared 2-core machine it cut the sustained delivery-report acknowledgement
 * p99 2.6–4× (`npm run bench -- dlr-ack`, which runs the parts the same way), for no throughput
 * measurably lost end to end.
 */
export const DEFAULT_BACKGROUND_NICE = 10;

export interface PartExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A part that exited before it reported ready; `output` is what it printed last. */
export class PartStartError extends Error {
  override readonly name = 'PartStartError';
  constructor(
    readonly part: PartName,
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

export interface PartOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Every line the part prints, stdout and stderr; omitted = kept only for start-up errors. */
  readonly onLine?: (line: string) => void;
  /** Longest wait for the part's ready report. */
  readonly startTimeoutMs?: number;
  /** Options for node itself, before the entry point (a benchmark's `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** Its nice value from the moment it is ready (reniceTree); omitted or 0 = this process's own. */
  readonly nice?: number;
}

/** How a part is started: its compiled file under dist/ when this module runs from there, else its source through tsx. */
function commandOf(part: PartName): string[] {
  const compiled = resolve(__dirname, '..', PART_ENTRIES[part] + '.js');
  if (__filename.endsWith('.js') && existsSync(compiled)) return [compiled];
  return ['--import', 'tsx', resolve(REPO_ROOT, PART_ENTRIES[part] + '.ts')];
}

/** One part, started with an IPC channel on which it reports ready (src/dev/supervision.ts). */
export class PartProcess {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<PartExit> = Promise.resolve({ code: null, signal: null });
  private readonly tail: string[] = [];

  constructor(
    readonly name: PartName,
    private readonly options: PartOptions,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with how the current process ended. */
  get exited(): Promise<PartExit> {
    return this.exitedPromise;
  }

  /** Starts the part and resolves once it reported ready. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.tail.length = 0;
    const child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), ...commandOf(this.name)], {
      cwd: REPO_ROOT,
      env: this.options.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: Ctrl-C in a terminal reaches the supervisor only, which stops the parts in order.
      detached: true,
    });
    this.child = child;
    this.exitedPromise = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.print(line);
      });
    }

    const ready = new Promise<void>((resolveReady) => child.on('message', (message) => message === 'ready' && resolveReady()));
    const timeoutMs = this.options.startTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      this.exitedPromise.then((exit) => exit),
      new Promise<'timeout'>((resolveTimeout) => (timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'ready') {
      if (child.pid !== undefined && this.options.nice) reniceTree(child.pid, this.options.nice);
      return;
    }
    if (outcome === 'timeout') {
      child.kill('SIGKILL');
      throw new PartStartError(this.name, `${this.name} did not report ready within ${timeoutMs / 1000} s`, this.output);
    }
    throw new PartStartError(this.name, `${this.name} exited during start-up (${describeExit(outcome)})`, this.output);
  }

  /** What the part printed last (up to 200 lines). */
  get output(): string {
    return this.tail.join('\n');
  }

  /** Sends a signal without waiting; `kill('SIGKILL')` is a crash. */
  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child?.kill(signal);
  }

  /**
   * SIGTERM, then SIGKILL once `graceMs` passed: a part's own shutdown may wait on something that
   * never ends, and a stop must end regardless. Resolves with how it ended.
   */
  async stop(graceMs: number): Promise<PartExit & { readonly killed: boolean }> {
    if (!this.running) return { ...(await this.exited), killed: false };
    this.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.kill('SIGKILL');
    }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, killed };
  }

  private print(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 200) this.tail.shift();
    this.options.onLine?.(line);
  }
}

export function describeExit(exit: PartExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}
