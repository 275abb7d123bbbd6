import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeliveryReportFormatError } from '../../src/providers/errors';
import type { DeliveryReport, InboundCallback } from '../../src/providers/types';

/** Values no real report carries in the field that gets them; each must be refused, not stored. */
export const HUGE = 'x'.repeat(100_000);
export const NOT_OUR_ID = 'order-42';
export const WITH_NUL = 'SM1fc5\u0000bbbb';
export const LONG_REASON = 'r'.repeat(10_000);

export interface HostileCase {
  readonly label: string;
  readonly callback: InboundCallback;
}

/**
 * Every hostile callback is a DeliveryReportFormatError (a 400 with a log line at the webhook) whose
 * message stays short: a refusal must not echo 100,000 characters back into the response or the log.
 */
export function refusesHostileCallbacks(
  adapter: string,
  parse: (callback: InboundCallback) => DeliveryReport[],
  cases: readonly HostileCase[],
): void {
  for (const { label, callback } of cases) {
    test(`${adapter} hostile callback: ${label} is refused as malformed, briefly`, () => {
      assert.throws(
        () => parse(callback),
        (error: unknown) => error instanceof DeliveryReportFormatError && error.message.length < 200,
      );
    });
  }
}
