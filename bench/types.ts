export type BenchValue = string | number;

/** What one benchmark measured, for bench/run.ts to print: one value per figure, or one per column. */
export interface BenchResult {
  name: string;
  /** Column headings when each figure has several values (one per backend, say). */
  columns?: readonly string[];
  figures: Record<string, BenchValue | readonly BenchValue[]>;
}

/** Options from the command line (`--name=value`), for the benchmarks that take them. */
export type BenchOptions = Readonly<Record<string, string>>;
