/** Errors of the admin services (routing, accounts): the REST API and the CLI render them alike. */

export interface FieldIssue {
  /** Path of the offending field, e.g. `tps` or `routes[3].prefix`; empty for the input as a whole. */
  readonly field: string;
  readonly message: string;
}

export abstract class AdminError extends Error {}

/** One line stays readable in a terminal; the full list is on `issues`. */
const MAX_ISSUES_IN_MESSAGE = 10;

/** The input breaks a rule; nothing was changed. */
export class AdminValidationError extends AdminError {
  override readonly name = 'AdminValidationError';
  constructor(readonly issues: readonly FieldIssue[]) {
    const shown = issues.slice(0, MAX_ISSUES_IN_MESSAGE).map((issue) => (issue.field ? `${issue.field}: ${issue.message}` : issue.message));
    const more = issues.length > MAX_ISSUES_IN_MESSAGE ? `; and ${issues.length - MAX_ISSUES_IN_MESSAGE} more` : '';
    super(`${shown.join('; ')}${more}`);
  }

  get field(): string | undefined {
    return this.issues[0]?.field || undefined;
  }
}

export class AdminNotFoundError extends AdminError {
  override readonly name = 'AdminNotFoundError';
  constructor(
    readonly kind: 'provider' | 'route' | 'account' | 'key',
    readonly id: string,
  ) {
    super(`no ${kind} ${id}`);
  }
}

/** The change would duplicate what exists; nothing was changed. */
export class AdminConflictError extends AdminError {
  override readonly name = 'AdminConflictError';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}
