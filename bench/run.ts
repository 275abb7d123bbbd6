// Runs the benchmarks, one after the other so they do not compete for the CPU, and prints each
// one's figures as a table.
//
//   npm run bench                       every benchmark
//   npm run bench -- end-to-end         only the ones named (route-resolution, db-statements, end-to-end, dev-server-sqlite, stored-report-backlog, campaign, inbox-notify, dlr-ack)
//   npm run bench -- end-to-end --backend=embedded --messages=1000
//                                       options: --backend (embedded, memory, postgres; default all),
//                                       --messages, --concurrency (or BENCH_MESSAGES, BENCH_CONCURRENCY),
//                                       --cpu-prof=<dir> (a V8 profile of each part; end-to-end and dlr-ack)

import { benchCampaign } from './campaign';
import { benchDbStatements } from './db-statements';
import { benchDevServerSqlite } from './dev-server-sqlite';
import { benchDlrAck } from './dlr-ack';
import { benchEndToEnd, END_TO_END_OPTIONS } from './end-to-end';
import { benchInboxNotify } from './inbox-notify';
import { BenchConfigError } from './load';
import { benchRouteResolution } from './route-resolution';
import { benchStoredReportBacklog } from './stored-report-backlog';
import type { BenchOptions, BenchResult, BenchValue } from './types';

const BENCHMARKS: Readonly<Record<string, (options: BenchOptions) => Promise<BenchResult>>> = {
  'route-resolution': benchRouteResolution,
  'db-statements': benchDbStatements,
  'end-to-end': benchEndToEnd,
  'dev-server-sqlite': benchDevServerSqlite,
  'stored-report-backlog': benchStoredReportBacklog,
  campaign: benchCampaign,
  'inbox-notify': benchInboxNotify,
  'dlr-ack': benchDlrAck,
};

function formatTable(result: BenchResult): string {
  const headings = ['figure', ...(result.columns ?? ['value'])];
  const rows = Object.entries(result.figures).map(([figure, value]) => [figure, ...(Array.isArray(value) ? value : [value]).map((cell: BenchValue) => String(cell))]);
  const widths = headings.map((heading, column) => Math.max(heading.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  // Numbers line up on the right, as in a spreadsheet; text reads from the left.
  const cell = (value: string, column: number): string => {
    const width = widths[column] ?? 0;
    return column > 0 && /^-?[\d.]+$/.test(value) ? value.padStart(width) : value.padEnd(width);
  };
  const format = (row: readonly string[]) => `| ${headings.map((_, column) => cell(row[column] ?? '', column)).join(' | ')} |`;
  return [result.name, line, format(headings.map((heading, column) => heading.padEnd(widths[column] ?? 0))), line, ...rows.map(format), line].join('\n');
}

function parseArguments(args: readonly string[]): { names: string[]; options: BenchOptions } {
  const names: string[] = [];
  const options: Record<string, string> = {};
  for (const arg of args) {
    const option = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!option) {
      names.push(arg);
      continue;
    }
    const [, key = '', value = ''] = option;
    if (!END_TO_END_OPTIONS.includes(key)) throw new BenchConfigError(`no option --${key}; there are ${END_TO_END_OPTIONS.map((name) => `--${name}`).join(', ')}`);
    options[key] = value;
  }
  return { names, options };
}

async function main(): Promise<void> {
  const { names, options } = parseArguments(process.argv.slice(2));
  const unknown = names.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) throw new BenchConfigError(`no benchmark ${unknown.join(', ')}; there are ${Object.keys(BENCHMARKS).join(', ')}`);
  for (const name of names.length > 0 ? names : Object.keys(BENCHMARKS)) {
    const benchmark = BENCHMARKS[name];
    if (benchmark) console.log(`${formatTable(await benchmark(options))}\n`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
