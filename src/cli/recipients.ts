import type { BatchRecipient } from '../client';

/**
 * Recipients from a CSV text: one number per line, or `to,clientRef` columns. Blank lines, `#`
 * comments and a `to,…` header line are skipped; cells may be double-quoted.
 */
export function parseRecipients(source: string): BatchRecipient[] {
  const recipients: BatchRecipient[] = [];
  source.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const [to = '', clientRef = ''] = trimmed.split(',').map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
    if (index === 0 && to.toLowerCase() === 'to') return;
    recipients.push(clientRef === '' ? to : { to, clientRef });
  });
  return recipients;
}
