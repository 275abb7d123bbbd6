/** The rate at which submits arrived at a provider, from their arrival times (ms). */
export interface SubmitRates {
  /** Over every submit. */
  readonly measuredTps: number;
  /**
   * After the first second: the server's limiter, like a provider's, lets one second's worth
   * through at once from idle; past that the rate is the sustained one.
   */
  readonly sustainedTps: number;
}

export function submitRates(arrivals: readonly number[]): SubmitRates {
  const times = [...arrivals].sort((a, b) => a - b);
  const first = times[0] ?? 0;
  const measuredTps = ((times.length - 1) * 1000) / ((times.at(-1) ?? 0) - first);
  const sustained = times.filter((time) => time >= first + 1000);
  const sustainedTps = ((sustained.length - 1) * 1000) / ((sustained.at(-1) ?? 0) - (sustained[0] ?? 0));
  return { measuredTps, sustainedTps };
}
