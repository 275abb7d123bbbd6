import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** A Go binary that scripts/ensure-tools.sh installs when it is not on PATH. */
export interface TemporalTool {
  readonly what: string;
  /** Environment variable naming a binary to use instead. */
  readonly envVar: string;
  readonly nameOnPath: string;
  /** Where ensure-tools.sh builds it. */
  readonly projectPath: string;
}

const TOOLS_DIR = resolve(__dirname, '../../.tools');

export const TEMPORAL_CLI: TemporalTool = { what: 'Temporal CLI', envVar: 'TEMPORAL_CLI', nameOnPath: 'temporal', projectPath: resolve(TOOLS_DIR, 'bin/temporal') };
export const TEMPORAL_SERVER: TemporalTool = {
  what: 'Temporal server',
  envVar: 'TEMPORAL_SERVER_BIN',
  nameOnPath: 'temporal-server',
  projectPath: resolve(TOOLS_DIR, 'temporal-server/bin/server'),
};
export const TEMPORAL_SQL_TOOL: TemporalTool = {
  what: 'Temporal sql tool',
  envVar: 'TEMPORAL_SQL_TOOL',
  nameOnPath: 'temporal-sql-tool',
  projectPath: resolve(TOOLS_DIR, 'temporal-server/bin/sql'),
};
export const TEMPORAL_UI_SERVER: TemporalTool = {
  what: 'Temporal UI server',
  envVar: 'TEMPORAL_UI_SERVER',
  nameOnPath: 'temporal-ui-server',
  projectPath: resolve(TOOLS_DIR, 'temporal-ui/bin/server'),
};

/** The tool's environment variable, else its name on PATH, else the project's own build. */
export function findTemporalTool(tool: TemporalTool, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[tool.envVar];
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  try {
    const onPath = execFileSync('sh', ['-c', `command -v ${tool.nameOnPath}`], { encoding: 'utf8' }).trim();
    if (onPath) return onPath;
  } catch {
    // not on PATH
  }
  if (existsSync(tool.projectPath)) return tool.projectPath;
  const flag = tool === TEMPORAL_CLI ? '' : ' --temporal=server';
  throw new Error(`${tool.what} not found: run \`bash scripts/ensure-tools.sh${flag}\` (npm start and npm test do)`);
}

export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string {
  return findTemporalTool(TEMPORAL_CLI, env);
}
