import type { Client } from '@temporalio/client';
import { bareReportSignal } from './workflows';

export interface BareShapeActivities {
  recordBareStatus(id: string, status: string): Promise<void>;
  /** The last step, as the router's final status write (which sets Message.completedAt). */
  recordBareFinalStatus(id: string, status: string): Promise<void>;
  submitBare(id: string): Promise<void>;
}

export interface BareShapeHooks {
  readonly onReportFailed: (error: unknown) => void;
  /** A workflow's final status was recorded, now. */
  readonly onFinal: (id: string) => void;
}

/**
 * No database and no provider: the figure is what Temporal alone costs per message. The submit
 * answers at once and "the provider" reports back with a signal right after, as a DLR would.
 */
export function createBareShapeActivities(client: Client, hooks: BareShapeHooks): BareShapeActivities {
  return {
    async recordBareStatus() {},
    async recordBareFinalStatus(id) {
      hooks.onFinal(id);
    },
    async submitBare(id) {
      setImmediate(() => {
        client.workflow
          .getHandle(id)
          .signal(bareReportSignal, 'delivered')
          .catch(hooks.onReportFailed);
      });
    },
  };
}
