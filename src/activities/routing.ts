import type { Database } from '../db/client';
import type { RouteCandidate, StatusChange } from '../domain/message';
import type { RoutingCatalog } from '../routing/catalog';
import { resolveCandidates, type RouteQuery } from '../routing/resolve';
import { writeStatusChanges } from './status';

export interface RouteMessageInput {
  readonly query: RouteQuery;
  /** Changes that happened since the last write (accepted, a failed attempt…), recorded first. */
  readonly before: readonly StatusChange[];
  /** Where the `routed` event goes in the message's history; its provider is the one chosen. */
  readonly routed: Pick<StatusChange, 'messageId' | 'sequence' | 'occurredAt' | 'country'>;
}

export function createRoutingActivities(db: Database, catalog: RoutingCatalog) {
  return {
    /**
     * Picks the provider for the message's next attempt and records it as `routed`, together with
     * the changes before it: one local activity and one write where three would do the same.
     * Undefined when no route (or no untried provider) is left.
     */
    async routeMessage(input: RouteMessageInput): Promise<RouteCandidate | undefined> {
      const [candidate] = resolveCandidates(await catalog.current(), input.query);
      const routed: StatusChange[] = candidate ? [{ ...input.routed, status: 'routed', providerId: candidate.providerId }] : [];
      await writeStatusChanges(db, [...input.before, ...routed]);
      return candidate;
    },
  };
}
