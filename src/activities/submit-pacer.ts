/** What the pacer reads time from; tests give it a clock of their own. */
export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacerClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Spaces one worker process's submits to one provider at the provider queue's rate. The server's
 * limiter decides when each task starts, but a process can be handed several at once: the limiter's
 * from-idle burst, or tasks that piled up while its event loop was busy (a workflow bundle, a GC
 * pause). Sent together, they arrive as one burst on top of the queue's pace and overrun a provider
 * that counts "N per second" over one second. Paced here, just before the request leaves, the
 * provider sees the pace the queue keeps whatever happened upstream.
 */
export class SubmitPacer {
  private readonly intervalMs: number;
  private nextSlotAt = Number.NEGATIVE_INFINITY;

  constructor(ratePerSecond: number, private readonly clock: PacerClock = realClock) {
    if (!(ratePerSecond > 0)) throw new RangeError(`a submit pacer needs a positive rate, got ${ratePerSecond}`);
    this.intervalMs = 1000 / ratePerSecond;
  }

  /** Resolves when the next submit may leave: at once when the last one left an interval ago or more. */
  async waitForSlot(): Promise<void> {
    const now = this.clock.now();
    const slot = Math.max(now, this.nextSlotAt);
    this.nextSlotAt = slot + this.intervalMs;
    if (slot > now) await this.clock.sleep(slot - now);
  }
}
