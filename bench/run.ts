// Runs the benchmarks, one after the other so they do not compete for the CPU, and prints each
// one's figures as a table.
//
//   npm run bench                       every benchmark
//   npm run bench -- end-to-end         only the ones named (route-resolution, end-to-end, dev-server-sqlite, stored-report-backlog, dlr-ack)
//   (BENCH_MESSAGES, BENCH_CONCURRENCY tune the end-to-end run)

import { benchDevServerSqlite } from './dev-server-sqlite';
import { benchDlrAck } from './dlr-ack';
import { benchEndToEnd } from './end-to-end';
import { benchRouteResolution } from './route-resolution';
import { benchStoredReportBacklog } from './stored-report-backlog';
import type { BenchResult } from './types';

const BENCHMARKS: Readonly<Record<string, () => Promise<BenchResult>>> = {
  'route-resolution': benchRouteResolution,
  'end-to-end': benchEndToEnd,
  'dev-server-sqlite': benchDevServerSqlite,
  'stored-report-backlog': benchStoredReportBacklog,
  'dlr-ack': benchDlrAck,
};

function formatTable(result: BenchResult): string {
  const rows = Object.entries(result.figures).map(([figure, value]) => [figure, String(value)] as const);
  const figureWidth = Math.max('figure'.length, ...rows.map(([figure]) => figure.length));
  const valueWidth = Math.max('value'.length, ...rows.map(([, value]) => value.length));
  const line = `+-${'-'.repeat(figureWidth)}-+-${'-'.repeat(valueWidth)}-+`;
  // Numbers line up on the right, as in a spreadsheet; text reads from the left.
  const cell = (value: string): string => (/^-?[\d.]+$/.test(value) ? value.padStart(valueWidth) : value.padEnd(valueWidth));
  return [
    result.name,
    line,
    `| ${'figure'.padEnd(figureWidth)} | ${'value'.padEnd(valueWidth)} |`,
    line,
    ...rows.map(([figure, value]) => `| ${figure.padEnd(figureWidth)} | ${cell(value)} |`),
    line,
  ].join('\n');
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) throw new Error(`no benchmark ${unknown.join(', ')}; there are ${Object.keys(BENCHMARKS).join(', ')}`);
  for (const name of names.length > 0 ? names : Object.keys(BENCHMARKS)) {
    const benchmark = BENCHMARKS[name];
    if (benchmark) console.log(`${formatTable(await benchmark())}\n`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
