import { batchRecipientsOf, parseRecipientCsv } from '../client/csv';
import type { BatchRecipient } from '../client';

/** Recipients from a CSV text: one number per line, or `to,clientRef` columns (src/client/csv.ts). */
export function parseRecipients(source: string): BatchRecipient[] {
  return batchRecipientsOf(parseRecipientCsv(source));
}
