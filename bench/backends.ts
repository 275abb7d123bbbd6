// The Temporal backends the end-to-end benchmark runs on, each started fresh for one run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestTemporalServer } from '../test/support/temporal-postgres';
import { startTestDevServer } from '../test/support/stack';

export const BACKENDS = ['embedded', 'memory', 'postgres'] as const;
export type BackendName = (typeof BACKENDS)[number];

export const BACKEND_LABELS: Readonly<Record<BackendName, string>> = {
  embedded: 'dev server, SQLite file, WAL (npm start)',
  memory: 'dev server in memory',
  postgres: 'Temporal server 1.29.1 on PostgreSQL',
};

export interface RunningBackend {
  readonly address: string;
  readonly serverPid: number | undefined;
  /** Its PostgreSQL databases; none for the dev server. */
  readonly databases: readonly string[];
  close(): Promise<void>;
}

export function isBackendName(name: string): name is BackendName {
  return (BACKENDS as readonly string[]).includes(name);
}

/**
 * Each server runs in a session of its own, as npm start runs it: where the kernel schedules
 * sessions as groups (autogroup), it would otherwise share the benchmark process's group, with the
 * load generator and the bare shape's workers.
 */
export async function startBackend(name: BackendName): Promise<RunningBackend> {
  if (name === 'postgres') {
    const server = await startTestTemporalServer({ ownProcessGroup: true });
    return { address: server.address, serverPid: server.pid, databases: server.databases, close: () => server.close() };
  }
  // The state file npm start keeps, with the pragmas it uses (SQLITE_PRAGMAS, the default).
  const dir = name === 'embedded' ? mkdtempSync(join(tmpdir(), 'smsrouter-bench-')) : undefined;
  const server = await startTestDevServer({ dbFile: dir && join(dir, 'temporal.db'), ownProcessGroup: true });
  return {
    address: server.address,
    serverPid: server.pid,
    databases: [],
    async close() {
      await server.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
