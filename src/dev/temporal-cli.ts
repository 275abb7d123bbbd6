import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** Where scripts/ensure-tools.sh builds the CLI when none is on PATH. */
export const PROJECT_TEMPORAL_CLI = resolve(__dirname, '../../.tools/bin/temporal');

/** TEMPORAL_CLI, else `temporal` on PATH, else the project's own build. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TEMPORAL_CLI && existsSync(env.TEMPORAL_CLI)) return env.TEMPORAL_CLI;
  try {
    const onPath = execFileSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' }).trim();
    if (onPath) return onPath;
  } catch {
    // not on PATH
  }
  if (existsSync(PROJECT_TEMPORAL_CLI)) return PROJECT_TEMPORAL_CLI;
  throw new Error('Temporal CLI not found: run `bash scripts/ensure-tools.sh` (npm start and npm test do)');
}
