import type { RouteCandidate } from '../domain/message';
import type { RoutingCatalog } from '../routing/catalog';
import { resolveCandidates, type RouteQuery } from '../routing/resolve';

export function createRoutingActivities(catalog: RoutingCatalog) {
  return {
    /** The ordered providers this message may go to; empty when no route matches. */
    async resolveRoute(query: RouteQuery): Promise<RouteCandidate[]> {
      return resolveCandidates(await catalog.current(), query);
    },
  };
}
