import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Command-line parsing and printing shared by the CLI's command groups. */

/** The command line is wrong; the message says how. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

export function parse(args: readonly string[], options: Options, positionals: readonly string[]): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length !== positionals.length) {
    throw new UsageError(positionals.length === 0 ? `unexpected argument ${parsed.positionals[0]}` : `expected ${positionals.join(' ')}`);
  }
  return parsed;
}

export const text = { type: 'string' } as const;
export const flag = { type: 'boolean' } as const;

/**
 * Numbers stay strings when they do not look like numbers, so the admin service's validation
 * names the field (`tps: must be a number`) instead of the CLI guessing.
 */
export function numeric(value: string | boolean | undefined): number | string | undefined {
  if (typeof value !== 'string') return undefined;
  return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

export function optionalText(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Leaves out what was not given, so an update changes only the fields named on the command line. */
export function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function output(values: Parsed['values'], data: unknown, render: () => string): string {
  return values.json ? JSON.stringify(data, null, 2) : render();
}
