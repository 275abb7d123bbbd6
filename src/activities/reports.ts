import type { Database } from '../db/client';
import type { DeliveryReportSignal } from '../domain/message';
import { deliveryReportOrderKey } from '../inbox/delivery-reports';

export interface KeptReports {
  readonly messageId: string;
  readonly reports: readonly DeliveryReportSignal[];
}

export function createReportActivities(db: Database) {
  return {
    /**
     * Stores delivery reports a message workflow was signalled but will not apply (they came while
     * it wrote its final status, or name an earlier attempt): they were acknowledged to the provider,
     * so they go back to the inbox, where the forwarder settles them as reports for a finished message.
     */
    async keepDeliveryReports(input: KeptReports): Promise<void> {
      await db.deliveryReport.createMany({
        data: input.reports.map(({ providerId, report }) => ({
          providerId,
          messageId: input.messageId,
          providerMessageId: report.providerMessageId,
          status: report.status,
          payload: { ...report },
          reason: 'finished',
          orderKey: deliveryReportOrderKey(providerId, input.messageId, report.providerMessageId),
        })),
      });
    },
  };
}
