import type { Client } from '@temporalio/client';
import { bareReportSignal } from './workflows';

export interface BareShapeActivities {
  recordBareStatus(id: string, status: string): Promise<void>;
  submitBare(id: string): Promise<void>;
}

/**
 * No database and no provider: the figure is what Temporal alone costs per message. The submit
 * answers at once and "the provider" reports back with a signal right after, as a DLR would.
 */
export function createBareShapeActivities(client: Client, onReportFailed: (error: unknown) => void): BareShapeActivities {
  return {
    async recordBareStatus() {},
    async submitBare(id) {
      setImmediate(() => {
        client.workflow
          .getHandle(id)
          .signal(bareReportSignal, 'delivered')
          .catch(onReportFailed);
      });
    },
  };
}
