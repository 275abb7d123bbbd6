import type { MessageStatus } from '../domain/status';
import type { RejectedRecipient } from './request';

/** Every error the SDK throws on purpose; `code` is the same code the REST API answers with. */
export abstract class SmsRouterError extends Error {
  abstract readonly code: string;
  /** The input field at fault, when there is one. */
  readonly field?: string;
}

/** What is wrong with a message's input, by the REST API's error codes. */
export type InvalidMessageCode = 'invalid_request' | 'invalid_number' | 'body_too_long' | 'too_many_recipients';

/** The input cannot be sent as it is; `field` names the field (`to`, `body`, `recipients[3]`, …). Nothing was started. */
export class InvalidMessageError extends SmsRouterError {
  override readonly name = 'InvalidMessageError';
  constructor(
    readonly code: InvalidMessageCode,
    message: string,
    override readonly field: string,
    /** A batch none of whose numbers is valid: each recipient, with why. */
    readonly recipients: readonly RejectedRecipient[] = [],
  ) {
    super(message);
  }
}

/**
 * The client reference already names a message of this account whose `field` differs: a retry
 * must repeat the request exactly, a new message needs a new reference. Nothing new was started.
 */
export class MessageConflictError extends SmsRouterError {
  override readonly name = 'MessageConflictError';
  readonly code = 'conflict';
  constructor(
    /** The existing message the reference names. */
    readonly messageId: string,
    readonly clientRef: string,
    override readonly field: string,
  ) {
    super(`clientRef "${clientRef}" already names message ${messageId} with a different ${field}`);
  }
}

/**
 * Temporal has no message by this id for this account: never sent, sent by another account, or
 * finished longer ago than the namespace's retention (the REST API's `GET /v1/messages/:id` still
 * reads those from PostgreSQL).
 */
export class MessageNotFoundError extends SmsRouterError {
  override readonly name = 'MessageNotFoundError';
  readonly code = 'not_found';
  override readonly field = 'id';
  constructor(readonly messageId: string) {
    super(`no message ${messageId} in this Temporal namespace for this account (never sent, or finished longer ago than the retention period)`);
  }
}

/** `waitForFinal` gave up; the message goes on, and `lastStatus` is where it stood. */
export class FinalStatusTimeoutError extends SmsRouterError {
  override readonly name = 'FinalStatusTimeoutError';
  readonly code = 'timeout';
  constructor(
    readonly messageId: string,
    readonly timeoutMs: number,
    readonly lastStatus: MessageStatus,
  ) {
    super(`message ${messageId} is still ${lastStatus} after ${timeoutMs} ms`);
  }
}
