import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { findTemporalCli } from '../../src/dev/temporal-cli';

/** Where replay histories live (test/unit/replay.test.ts replays every file there). */
export const HISTORIES_DIR = resolve(__dirname, '../histories');

/**
 * Writes a finished workflow's history as `<dir>/<name>.json`, in the JSON format every Temporal
 * tool reads (the CLI writes it).
 */
export function writeHistory(address: string, workflowId: string, name: string, dir = HISTORIES_DIR): void {
  const history = execFileSync(findTemporalCli(), ['workflow', 'show', '--workflow-id', workflowId, '--address', address, '--output', 'json'], {
    encoding: 'utf8',
  });
  writeFileSync(resolve(dir, `${name}.json`), history);
}

/** In a test run by scripts/record-histories.ts (RECORD_HISTORIES_DIR set): writes the scenario's history. */
export function recordHistoryIfAsked(address: string, workflowId: string, name: string): void {
  const dir = process.env.RECORD_HISTORIES_DIR;
  if (dir) writeHistory(address, workflowId, name, dir);
}
