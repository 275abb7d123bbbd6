import { DefaultLogger, Runtime, type LogEntry, type LogLevel, type WorkerOptions } from '@temporalio/worker';

let installed = false;

/**
 * The SDK logs every bundle build and worker state change at INFO; an operator wants warnings.
 * Our entry points own SIGINT/SIGTERM so they can stop the API before the workers: the SDK's own
 * signal handling is turned off. Must run before the first connection; later calls are no-ops.
 */
export function installTemporalRuntime(level: LogLevel = 'WARN'): void {
  if (installed) return;
  const print = new DefaultLogger(level);
  const logger = new DefaultLogger(level, (entry: LogEntry) => {
    // Dispatch workers run activities only, by design; the SDK warns about that on every start.
    if (entry.message.startsWith('No workflows registered')) return;
    print.log(entry.level, entry.message, entry.meta);
  });
  Runtime.install({ logger, shutdownSignals: [] });
  installed = true;
}

/**
 * Every worker's shutdown: activities get a few seconds to finish before they are cancelled, and a
 * worker still not stopped after that gives up rather than holding the process (Ctrl-C, a deploy).
 */
export const WORKER_SHUTDOWN: Pick<WorkerOptions, 'shutdownGraceTime' | 'shutdownForceTime'> = {
  shutdownGraceTime: '3s',
  shutdownForceTime: '8s',
};
