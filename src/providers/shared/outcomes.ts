import type { DeliveryReport, HttpResponse, SubmitOutcome } from '../types';
import { retryAfterMs } from './http';

/** One row of a provider's submit error-code table. */
export interface SubmitErrorEntry {
  readonly kind: 'transient' | 'permanent';
  readonly reason: string;
  /** The recipient opted out of the sender (a STOP the provider enforces). */
  readonly optedOut?: true;
}

/** One row of a provider's delivery-report error-code table. */
export interface DeliveryErrorEntry {
  readonly reason: string;
  /** Another route (provider or connection) may still reach the handset. */
  readonly otherRoute: boolean;
}

type FailureKind = Extract<SubmitOutcome, { kind: 'transient' | 'permanent' }>['kind'];

export function isSuccessStatus(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}

/**
 * A 5xx is the provider failing whatever its body says. Otherwise the provider's code decides, and
 * without a known code the status does: 408 and 429 mean "not processed, try later".
 */
export function failureKind(statusCode: number, entry: SubmitErrorEntry | undefined): FailureKind {
  if (statusCode >= 500) return 'transient';
  return entry?.kind ?? (statusCode === 408 || statusCode === 429 ? 'transient' : 'permanent');
}

/** A refused submit; a transient one carries the provider's Retry-After when it sent one. */
export function failedSubmit(kind: FailureKind, code: string, reason: string, response: HttpResponse, entry?: SubmitErrorEntry): SubmitOutcome {
  if (kind === 'permanent') return entry?.optedOut ? { kind, code, reason, recipientOptedOut: true } : { kind, code, reason };
  const retryAfter = retryAfterMs(response.headers);
  return retryAfter === undefined ? { kind, code, reason } : { kind, code, reason, retryAfterMs: retryAfter };
}

/** A report's error fields from the provider's code, its table row (if any) and its own words (if any). */
export function deliveryError(
  code: string,
  entry: DeliveryErrorEntry | undefined,
  providerReason: string | undefined,
): Pick<DeliveryReport, 'errorCode' | 'errorReason' | 'retryableOnOtherRoute'> {
  return { errorCode: code, errorReason: providerReason ?? entry?.reason, retryableOnOtherRoute: entry?.otherRoute ?? false };
}

/** ISO 8601 of the provider's event time, or now when it gave none we can read. */
export function occurredAt(epochMs: number | undefined): string {
  const date = new Date(epochMs ?? Date.now());
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}
