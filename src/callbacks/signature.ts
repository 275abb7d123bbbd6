import { createHmac } from 'node:crypto';

/** Header of every client callback; the README shows a client how to verify it. */
export const SIGNATURE_HEADER = 'x-smsrouter-signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, Stripe's layout: the time is signed too, so a captured callback cannot be replayed later. */
export function callbackSignature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}
