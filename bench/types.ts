/** What one benchmark measured, for bench/run.ts to print. */
export interface BenchResult {
  name: string;
  figures: Record<string, string | number>;
}
