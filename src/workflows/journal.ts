import type { MessageRequest, StatusChange } from '../domain/message';
import type { MessageStatus } from '../domain/status';

export interface MessageState {
  readonly status: MessageStatus;
  readonly providerId?: string;
  readonly providerMessageId?: string;
}

/** A change as the workflow describes it; the journal adds where and when it happened. */
export type ChangeInput = Omit<StatusChange, 'messageId' | 'sequence' | 'occurredAt' | 'country'>;

/** Where the next change goes in the message's history, for a write that picks its change itself (routing). */
export type ChangePosition = Pick<StatusChange, 'messageId' | 'sequence' | 'occurredAt' | 'country'>;

/**
 * The message's status history as its workflow writes it. Each change is stamped with the next
 * sequence and the time; a change nothing needs in the database at once is queued and goes out with
 * the next write, so a message costs as few writes (local activities, history events) as it can.
 */
export class StatusJournal {
  private sequence = 0;
  private queued: StatusChange[] = [];
  private current: MessageState = { status: 'accepted' };

  constructor(
    private readonly request: MessageRequest,
    /** Writes changes, then tells the outside world (search attributes, the client) about them. */
    private readonly write: (changes: readonly StatusChange[]) => Promise<void>,
  ) {}

  get state(): MessageState {
    return this.current;
  }

  /** Records a change with the next write. */
  queue(change: ChangeInput): void {
    this.queued.push(this.stamp(change, this.next()));
  }

  /** Writes a change now, with any that were queued. */
  async flush(change: ChangeInput): Promise<void> {
    await this.write([...this.takeQueued(), this.stamp(change, this.next())]);
  }

  /** Hands the queued changes to a write made elsewhere (routing writes them with its own change). */
  takeQueued(): StatusChange[] {
    return this.queued.splice(0);
  }

  /** Puts back changes taken for a write that may not have happened, ahead of any queued since. */
  restore(changes: readonly StatusChange[]): void {
    this.queued.unshift(...changes);
  }

  /** The next change's place in the history, before the change itself is known. */
  next(): ChangePosition {
    return { messageId: this.request.messageId, sequence: this.sequence + 1, occurredAt: new Date().toISOString(), country: this.request.country };
  }

  /**
   * Leaves a position from `next()` behind unused: something else may have written a change there
   * unseen (a submit activity lost after recording `submitted`), and a change written at a taken
   * position is dropped as a repeat.
   */
  skip(at: ChangePosition): void {
    this.sequence = Math.max(this.sequence, at.sequence);
  }

  /** Stamps a change at a position from `next()`; it becomes the message's current state. */
  stamp(change: ChangeInput, at: ChangePosition): StatusChange {
    this.sequence = at.sequence;
    this.current = { status: change.status, providerId: change.providerId, providerMessageId: change.providerMessageId };
    return { ...change, ...at };
  }
}
