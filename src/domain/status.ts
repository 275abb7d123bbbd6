/**
 * The statuses a message moves through. They mirror the MessageStatus enum in
 * prisma/schema.prisma; test/unit/status.test.ts keeps the two in step.
 */
export const MESSAGE_STATUSES = [
  'accepted',
  'scheduled',
  'routed',
  'submitted',
  'attempt_failed',
  'enroute',
  'buffered',
  'delivered',
  'undelivered',
  'rejected',
  'expired',
  'failed',
  'unknown',
  'cancelled',
] as const;

/** One of MESSAGE_STATUSES. */
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** A message in one of these states will not change again (a late DLR only annotates `unknown`). */
export const FINAL_STATUSES: ReadonlySet<MessageStatus> = new Set<MessageStatus>([
  'delivered',
  'undelivered',
  'rejected',
  'expired',
  'failed',
  'unknown',
  'cancelled',
]);

export function isFinalStatus(status: MessageStatus): boolean {
  return FINAL_STATUSES.has(status);
}

/** What a provider's delivery report can tell us, once mapped by its adapter. */
export const DELIVERY_REPORT_STATUSES = ['enroute', 'buffered', 'delivered', 'undelivered', 'rejected', 'expired', 'unknown'] as const;

export type DeliveryReportStatus = (typeof DELIVERY_REPORT_STATUSES)[number];

const FINAL_REPORT_STATUSES: ReadonlySet<DeliveryReportStatus> = new Set<DeliveryReportStatus>([
  'delivered',
  'undelivered',
  'rejected',
  'expired',
  'unknown',
]);

export function isFinalReportStatus(status: DeliveryReportStatus): boolean {
  return FINAL_REPORT_STATUSES.has(status);
}
