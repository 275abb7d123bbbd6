import type { BatchRecipient } from './request';

/** A line of a recipients CSV that cannot be read; `line` is 1-based. */
export class RecipientCsvError extends Error {
  override readonly name = 'RecipientCsvError';
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

/** A recipient of a CSV file and the line it came from. */
export interface CsvRecipient {
  readonly to: string;
  readonly clientRef?: string;
  /** 1-based, as editors count. */
  readonly line: number;
}

const QUOTED = /^"(.*)"$/;

/**
 * Recipients from a CSV text: one number per line, or `to,clientRef` columns. Blank lines, `#`
 * comments and a `to,…` header on the first line are skipped; cells may be double-quoted. A line
 * with more than two cells, or a quote that does not close, is a RecipientCsvError naming it.
 */
export function parseRecipientCsv(source: string): CsvRecipient[] {
  const recipients: CsvRecipient[] = [];
  source.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const cells = trimmed.split(',').map((cell) => cell.trim());
    if (cells.length > 2) throw new RecipientCsvError(index + 1, `expected "to" or "to,clientRef", got ${cells.length} cells`);
    const [to = '', clientRef = ''] = cells.map((cell) => {
      if (cell.includes('"') && !QUOTED.test(cell)) throw new RecipientCsvError(index + 1, 'a quote does not close');
      return cell.replace(QUOTED, '$1');
    });
    if (index === 0 && to.toLowerCase() === 'to') return;
    recipients.push(clientRef === '' ? { to, line: index + 1 } : { to, clientRef, line: index + 1 });
  });
  return recipients;
}

/** The CSV's recipients as `sendBatch` takes them. */
export function batchRecipientsOf(recipients: readonly CsvRecipient[]): BatchRecipient[] {
  return recipients.map(({ to, clientRef }) => (clientRef === undefined ? to : { to, clientRef }));
}
