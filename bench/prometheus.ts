// What the benchmarks read from a part's Prometheus text (`/metrics`): histograms over a window, as
// the difference of two scrapes, and the quantiles in them as PromQL's histogram_quantile finds them.

/** Sample values by series, `name{labels}` exactly as the text spells them. */
export type Scrape = ReadonlyMap<string, number>;

export function parseScrape(text: string): Scrape {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match?.[1] !== undefined) samples.set(match[1], Number(match[2]));
  }
  return samples;
}

export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  return parseScrape(await response.text());
}

/** A series' metric name and its labels' text (`key="value",…`, empty without labels). */
function seriesParts(series: string): { name: string; labels: string } {
  const match = /^([^{]+)(?:\{(.*)\})?$/.exec(series);
  return { name: match?.[1] ?? series, labels: match?.[2] ?? '' };
}

/** The sum of `name`'s samples whose labels include each of `labels` (`key="value"`). */
export function sumOf(scrape: Scrape, name: string, labels: readonly string[] = []): number {
  let sum = 0;
  for (const [series, value] of scrape) {
    const parts = seriesParts(series);
    if (parts.name === name && labels.every((label) => parts.labels.includes(label))) sum += value;
  }
  return sum;
}

/** A histogram between two scrapes: its cumulative bucket counts by upper bound, ascending. */
export interface HistogramWindow {
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
  readonly count: number;
  readonly sum: number;
}

/** The histogram `name`'s series whose labels include `labels` (`key="value"`), after minus before. */
export function histogramWindow(before: Scrape, after: Scrape, name: string, labels: readonly string[] = []): HistogramWindow {
  const buckets = new Map<number, number>();
  for (const series of after.keys()) {
    const parts = seriesParts(series);
    if (parts.name !== `${name}_bucket` || !labels.every((label) => parts.labels.includes(label))) continue;
    const le = /le="([^"]+)"/.exec(parts.labels)?.[1];
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + (after.get(series) ?? 0) - (before.get(series) ?? 0));
  }
  const grew = (metric: string) => sumOf(after, metric, labels) - sumOf(before, metric, labels);
  return {
    buckets: [...buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le),
    count: grew(`${name}_count`),
    sum: grew(`${name}_sum`),
  };
}

/**
 * The q-quantile, linearly interpolated within the bucket it falls in (from 0 for the first); a
 * quantile in the +Inf bucket is the highest finite bound. NaN for an empty window.
 */
export function histogramQuantile(window: HistogramWindow, q: number): number {
  if (window.count === 0) return Number.NaN;
  const rank = q * window.count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const { le, count } of window.buckets) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lowerBound;
      return lowerBound + ((le - lowerBound) * (rank - lowerCount)) / Math.max(1, count - lowerCount);
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
