import type { Database } from '../db/client';
import type { RoutingCatalog } from '../routing/catalog';
import { SuppressionList } from '../inbound/suppression';
import { createDispatchActivities, ProviderPools, type DispatchDependencies } from './dispatch';
import { createNotifyActivities } from './notify';
import { createReportActivities } from './reports';
import { createRoutingActivities } from './routing';
import { createStatusActivities } from './status';
import { createSubmitAttemptActivities } from './submit-attempts';
import { SubmitPacer } from './submit-pacer';

/** Activities of the `router` task queue: route look-ups, status writes, submit-attempt fences, kept reports. */
export function createRouterActivities(db: Database, catalog: RoutingCatalog, suppressions = new SuppressionList(db)) {
  return {
    ...createStatusActivities(db),
    ...createRoutingActivities(db, catalog, suppressions),
    ...createSubmitAttemptActivities(db),
    ...createReportActivities(db),
  };
}

export { createDispatchActivities, createNotifyActivities, ProviderPools, SubmitPacer, type DispatchDependencies };

export type RouterActivities = ReturnType<typeof createRouterActivities>;
export type DispatchActivities = ReturnType<typeof createDispatchActivities>;
export type NotifyActivities = ReturnType<typeof createNotifyActivities>;
