import type { MessageStatus } from '../client';

/** Counts of a batch send while it waits: how many were accepted, rejected and finished, and how. */
export class BatchProgress {
  accepted = 0;
  rejected = 0;
  timedOut = 0;
  readonly finals = new Map<MessageStatus, number>();

  constructor(readonly total: number) {}

  get finished(): number {
    return [...this.finals.values()].reduce((sum, count) => sum + count, 0);
  }

  recordFinal(status: MessageStatus): void {
    this.finals.set(status, (this.finals.get(status) ?? 0) + 1);
  }

  /** `accepted 120/200, final 80/120 (delivered 78, failed 2)`. */
  summary(): string {
    const outcomes = [...this.finals.entries()].map(([status, count]) => `${status} ${count}`).join(', ');
    const extras = [this.rejected > 0 ? `rejected ${this.rejected}` : '', this.timedOut > 0 ? `still waiting ${this.timedOut}` : ''].filter(Boolean).join(', ');
    return `accepted ${this.accepted}/${this.total}, final ${this.finished}/${this.accepted}${outcomes ? ` (${outcomes})` : ''}${extras ? `, ${extras}` : ''}`;
  }
}

const BAR_WIDTH = 24;
/** On a pipe or in a log, one line per second at most: enough to follow, few enough to read. */
const PLAIN_INTERVAL_MS = 1000;

/**
 * Shows a BatchProgress: a bar redrawn in place on a terminal, plain lines (no control
 * characters) when the output is not a TTY.
 */
export class ProgressDisplay {
  private lastPlain = '';
  private lastPlainAt = 0;

  constructor(
    private readonly progress: BatchProgress,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(): void {
    if (this.out.isTTY) {
      this.out.write(`\r${this.bar()} ${this.progress.summary()}\u001b[K`);
      return;
    }
    const line = this.progress.summary();
    const now = Date.now();
    if (line === this.lastPlain || now - this.lastPlainAt < PLAIN_INTERVAL_MS) return;
    this.plain(line, now);
  }

  /** The last state, always printed, and the terminal's line ended. */
  done(): void {
    if (this.out.isTTY) {
      this.out.write(`\r${this.bar()} ${this.progress.summary()}\u001b[K\n`);
      return;
    }
    const line = this.progress.summary();
    if (line !== this.lastPlain) this.plain(line, Date.now());
  }

  private plain(line: string, at: number): void {
    this.out.write(`${line}\n`);
    this.lastPlain = line;
    this.lastPlainAt = at;
  }

  private bar(): string {
    const { total, finished, accepted } = this.progress;
    const done = total === 0 ? BAR_WIDTH : Math.round((finished / total) * BAR_WIDTH);
    const waiting = total === 0 ? 0 : Math.max(0, Math.round((accepted / total) * BAR_WIDTH) - done);
    return `[${'#'.repeat(done)}${'-'.repeat(waiting)}${' '.repeat(Math.max(0, BAR_WIDTH - done - waiting))}]`;
  }
}
