import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The command line is wrong; the message says how. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The options a command accepts, as node:util parseArgs takes them. */
export type Options = NonNullable<ParseArgsConfig['options']>;

/** A parsed command line: its option values and positional arguments. */
export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/** Parses a command's arguments strictly (`--json` is always allowed); a mistake is a UsageError. */
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

/** An option that takes a value. */
export const text = { type: 'string' } as const;
/** An option that is on or off. */
export const flag = { type: 'boolean' } as const;

/**
 * Numbers stay strings when they do not look like numbers, so the admin service's validation
 * names the field (`tps: must be a number`) instead of the CLI guessing.
 */
export function numeric(value: string | boolean | undefined): number | string | undefined {
  if (typeof value !== 'string') return undefined;
  return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

/** A string option's value; a flag given where a value belongs counts as absent. */
export function optionalText(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Leaves out what was not given, so an update changes only the fields named on the command line. */
export function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** Columns padded to their widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A file named on the command line; one that cannot be read is a usage error. */
export function readTextFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The data as JSON with `--json`, else as `render` prints it. */
export function output(values: Parsed['values'], data: unknown, render: () => string): string {
  return values.json ? JSON.stringify(data, null, 2) : render();
}
