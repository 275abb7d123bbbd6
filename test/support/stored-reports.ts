import { randomUUID } from 'node:crypto';
import { DEFAULT_MESSAGE_POLICY } from '../../src/client/request';
import type { Database } from '../../src/db/client';
import { DEMO_ACCOUNT_ID } from '../../src/dev/seed';
import type { Prisma } from '../../src/generated/prisma/client';
import { deliveryReportOrderKey } from '../../src/inbox/delivery-reports';
import type { DeliveryReport } from '../../src/providers/types';
import type { ReconcilerOptions } from '../../src/reconciler/delivery-reports';

/** A forwarder's options for unit tests that drive its passes themselves. */
export const UNIT_FORWARDER_OPTIONS: ReconcilerOptions = {
  intervalMs: 1000,
  passSpacingMs: 0,
  giveUpAfterMs: 60_000,
  retryDelayMs: 100,
  maxRetryDelayMs: 1000,
  maxAttempts: 3,
  leaseMs: 60_000,
  drainTimeoutMs: 1000,
  policy: DEFAULT_MESSAGE_POLICY,
};

export interface StoredMessageRef {
  readonly id: string;
  readonly providerMessageId: string;
}

/** Message rows already `delivered` on `providerId`, written directly: no workflow behind them. */
export async function createFinishedMessages(db: Database, providerId: string, count: number, label: string): Promise<StoredMessageRef[]> {
  const messages = Array.from({ length: count }, (_, index) => ({ id: randomUUID(), providerMessageId: `${label}-${index}` }));
  await db.message.createMany({
    data: messages.map((message, index) => ({
      id: message.id,
      accountId: DEMO_ACCOUNT_ID,
      to: `+4530${String(100_000 + index)}`,
      from: 'Acme',
      body: label,
      encoding: 'gsm7',
      segments: 1,
      status: 'delivered' as const,
      providerId,
      providerMessageId: message.providerMessageId,
    })),
  });
  return messages;
}

export function deliveredReport(message: StoredMessageRef): DeliveryReport {
  return { messageId: message.id, providerMessageId: message.providerMessageId, status: 'delivered', providerStatus: 'delivered', occurredAt: new Date().toISOString() };
}

/** A DeliveryReport row as the webhook writes one to the inbox. */
export function storedReportRow(providerId: string, report: DeliveryReport): Prisma.DeliveryReportCreateManyInput {
  return {
    providerId,
    messageId: report.messageId,
    providerMessageId: report.providerMessageId,
    status: report.status,
    payload: { ...report },
    orderKey: deliveryReportOrderKey(providerId, report.messageId, report.providerMessageId),
  };
}
