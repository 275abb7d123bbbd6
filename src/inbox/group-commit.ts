export interface GroupCommitOptions {
  /** Rows one flush writes at most; a full batch flushes at once. */
  readonly maxRows: number;
  /** How long the first row of a batch waits for others to join it. */
  readonly lingerMs: number;
}

interface Waiting<T> {
  readonly rows: readonly T[];
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Rows appended by concurrent callers, written together: one `write` per flush, and each caller's
 * promise settles with the flush that carried its rows, so a caller answers only once its rows are
 * durable, and a failed flush fails exactly the callers it carried.
 *
 * One flush at a time: rows commit in the order they were appended (ids taken by a later flush are
 * never visible before an earlier one's), and the rows that arrive during a flush form the next.
 */
export class GroupCommit<T> {
  private queue: Waiting<T>[] = [];
  private queuedRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly write: (rows: readonly T[]) => Promise<void>,
    private readonly options: GroupCommitOptions,
  ) {}

  append(rows: readonly T[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.queuedRows += rows.length;
      this.schedule();
    });
  }

  /** Writes what is queued and waits for every flush in flight. */
  async close(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      this.flush();
      await this.flushing;
    }
  }

  private schedule(): void {
    if (this.flushing) return;
    if (this.queuedRows >= this.options.maxRows) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing || this.queue.length === 0) return;
    const batch = this.takeBatch();
    const rows = batch.flatMap((waiting) => waiting.rows);
    this.flushing = this.write(rows).then(
      () => batch.forEach((waiting) => waiting.resolve()),
      (error: unknown) => batch.forEach((waiting) => waiting.reject(error)),
    );
    void this.flushing.finally(() => {
      this.flushing = undefined;
      // What came during the flush has waited long enough already.
      if (this.queue.length > 0) this.flush();
    });
  }

  /** Whole callers up to maxRows (one caller's rows are never split between flushes). */
  private takeBatch(): Waiting<T>[] {
    let rows = 0;
    let count = 0;
    for (const waiting of this.queue) {
      if (count > 0 && rows + waiting.rows.length > this.options.maxRows) break;
      rows += waiting.rows.length;
      count += 1;
    }
    const batch = this.queue.splice(0, count);
    this.queuedRows -= rows;
    return batch;
  }
}
