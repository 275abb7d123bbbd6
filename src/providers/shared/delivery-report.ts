import { z } from 'zod';
import { isMessageId } from '../../domain/message-id';
import { DELIVERY_REPORT_STATUSES } from '../../domain/status';
import { DeliveryReportFormatError } from '../errors';
import type { DeliveryReport } from '../types';
import { scalarText } from './json';

/**
 * The longest each field of a delivery report may be. Real values are far shorter (Twilio SIDs are
 * 34 characters, Vonage ids 16, GatewayAPI ids integers); the bounds are what we are willing to store
 * and signal, so that no callback can make a report that Temporal or PostgreSQL chokes on.
 */
export const DELIVERY_REPORT_LIMITS = {
  providerMessageId: 128,
  providerStatus: 64,
  /** Ours, with the provider's prefix: `gatewayapi:0x1010`, `vonage:dlr:8`. */
  errorCode: 96,
  errorReason: 512,
} as const;

/** PostgreSQL text and jsonb cannot hold NUL, and no provider sends one in a real report. */
const boundedText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((value) => !value.includes('\u0000'), 'contains a NUL byte');

const deliveryReportSchema = z.strictObject({
  messageId: z
    .string()
    .refine(isMessageId, 'is not one of our message ids')
    .optional(),
  providerMessageId: boundedText(DELIVERY_REPORT_LIMITS.providerMessageId),
  status: z.enum(DELIVERY_REPORT_STATUSES),
  providerStatus: boundedText(DELIVERY_REPORT_LIMITS.providerStatus),
  errorCode: boundedText(DELIVERY_REPORT_LIMITS.errorCode).optional(),
  errorReason: boundedText(DELIVERY_REPORT_LIMITS.errorReason).optional(),
  retryableOnOtherRoute: z.boolean().optional(),
  occurredAt: z.iso.datetime(),
});

/** Why a value is not a delivery report, naming the first bad field but never echoing its value. */
function describeProblem(error: z.ZodError): string {
  const [issue] = error.issues;
  if (!issue) return 'delivery report is invalid';
  const field = issue.path.map(String).join('.');
  return field ? `delivery report field "${field}" ${issue.message.replace(/^Invalid input: /, '').toLowerCase()}` : `delivery report ${issue.message.toLowerCase()}`;
}

/**
 * What every adapter returns its reports through: the report as parsed, once each field is within
 * its bounds. Throws DeliveryReportFormatError (a 400 at the webhook) otherwise.
 */
export function checkedDeliveryReport(report: DeliveryReport): DeliveryReport {
  const result = deliveryReportSchema.safeParse(report);
  if (!result.success) throw new DeliveryReportFormatError(describeProblem(result.error));
  return report;
}

/** A report read back from storage, held to the same bounds as one arriving at the webhook. */
export function storedDeliveryReport(value: unknown): DeliveryReport {
  const result = deliveryReportSchema.safeParse(value);
  if (!result.success) throw new DeliveryReportFormatError(describeProblem(result.error));
  return result.data;
}

/**
 * An optional scalar field of a parsed callback as text: absent or null is undefined, an object or
 * array where a scalar belongs is a malformed report, not a field to ignore.
 */
export function optionalReportField(fields: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  const text = scalarText(value);
  if (text === undefined) throw new DeliveryReportFormatError(`delivery report field "${preview(name)}" is not a scalar`);
  return text;
}

/** A provider-supplied value quoted in an error message or log line, cut short: callers may be hostile. */
export function preview(value: string): string {
  const PREVIEW_LENGTH = 40;
  const shown = value.length > PREVIEW_LENGTH ? `${value.slice(0, PREVIEW_LENGTH)}… (${value.length} characters)` : value;
  return JSON.stringify(shown).slice(1, -1);
}
