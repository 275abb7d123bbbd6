import type { Database } from '../db/client';
import type { RouteCandidate, StatusChange } from '../domain/message';
import type { RoutingCatalog } from '../routing/catalog';
import { SuppressionList } from '../inbound/suppression';
import { resolveCandidates, type RouteQuery } from '../routing/resolve';
import { writeStatusChanges } from './status';

export interface RouteMessageInput {
  readonly query: RouteQuery;
  /** Changes that happened since the last write (accepted, a failed attempt…), recorded first. */
  readonly before: readonly StatusChange[];
  /** Where the `routed` event goes in the message's history; its provider is the one chosen. */
  readonly routed: Pick<StatusChange, 'messageId' | 'sequence' | 'occurredAt' | 'country'>;
}

/** The recipient opted out of this account's messages: nothing may reach a provider. */
export interface SuppressedRoute {
  readonly suppressed: true;
}

export function createRoutingActivities(db: Database, catalog: RoutingCatalog, suppressions = new SuppressionList(db)) {
  return {
    /**
     * Picks the provider for the message's next attempt and records it as `routed`, together with
     * the changes before it: one local activity and one write where three would do the same.
     * Undefined when no route (or no untried provider) is left; suppressed when the account's
     * suppression list has the recipient (checked before every attempt, so a STOP that arrives
     * while a message waits to be retried still holds).
     */
    async routeMessage(input: RouteMessageInput): Promise<RouteCandidate | SuppressedRoute | undefined> {
      if (await suppressions.isSuppressed(input.query.accountId, input.query.to)) {
        await writeStatusChanges(db, input.before);
        return { suppressed: true };
      }
      const [candidate] = resolveCandidates(await catalog.current(), input.query);
      const routed: StatusChange[] = candidate ? [{ ...input.routed, status: 'routed', providerId: candidate.providerId }] : [];
      await writeStatusChanges(db, [...input.before, ...routed]);
      return candidate;
    },
  };
}
