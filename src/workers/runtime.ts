import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

/**
 * The SDK logs every bundle build and worker state change at INFO; an operator wants warnings.
 * Our entry points own SIGINT/SIGTERM so they can stop the API before the workers: the SDK's own
 * signal handling is turned off. Must run before the first connection; later calls are no-ops.
 */
export function installTemporalRuntime(level: LogLevel = 'WARN'): void {
  if (installed) return;
  Runtime.install({ logger: new DefaultLogger(level), shutdownSignals: [] });
  installed = true;
}
