import type { RouteCandidate } from '../domain/message';
import type { Provider } from '../generated/prisma/client';
import type { RoutingSnapshot } from './catalog';
import type { RouteRule } from './route-table';

export interface RouteQuery {
  /** E.164 with '+'. */
  readonly to: string;
  readonly accountId: string;
  readonly from: string;
  /**
   * Providers already tried, left out of the winning group (which they never change). Re-resolving
   * before each attempt this way also skips a provider disabled meanwhile.
   */
  readonly excludeProviders?: readonly string[];
  /**
   * The one provider to use, route table or not: a reply to an inbound message goes back the way
   * it came, from a number only that provider serves. Disabled or excluded: no candidate.
   */
  readonly pinnedProvider?: string;
}

/** Uniform in [0, 1), like Math.random; tests pass a seeded one. */
export type RandomSource = () => number;

/**
 * The ordered providers a message may go to; empty when no route applies. The winning group of
 * routes (see RouteTable) is ordered by ascending priority; routes of equal priority are ordered by
 * a weighted random draw, so weights 70 and 30 put each first about 70% and 30% of the time.
 */
export function resolveCandidates(snapshot: RoutingSnapshot, query: RouteQuery, random: RandomSource = Math.random): RouteCandidate[] {
  if (query.pinnedProvider !== undefined) {
    const pinned = snapshot.providers.get(query.pinnedProvider);
    return pinned?.enabled && !query.excludeProviders?.includes(pinned.id) ? [candidateOf(pinned)] : [];
  }
  const candidates: RouteCandidate[] = [];
  for (const route of drawOrder(matchRoutes(snapshot, query), random)) {
    const provider = snapshot.providers.get(route.providerId);
    if (!provider || candidates.some((candidate) => candidate.providerId === provider.id)) continue;
    candidates.push(candidateOf(provider));
  }
  return candidates;
}

function candidateOf(provider: Provider): RouteCandidate {
  return { providerId: provider.id, dlrTimeoutSeconds: provider.dlrTimeoutSeconds, deliveryGuarantee: provider.deliveryGuarantee };
}

export interface ExplainedRoute {
  readonly route: RouteRule;
  /** Chance that this route comes first among the routes of its priority. */
  readonly share: number;
}

/** The winning group in its expected order (priority, then heaviest weight), for admins asking "where would this go?". */
export function explainRoute(snapshot: RoutingSnapshot, query: RouteQuery): ExplainedRoute[] {
  const group = matchRoutes(snapshot, query);
  const explained: ExplainedRoute[] = [];
  for (const tier of priorityTiers(group)) {
    const total = tier.reduce((sum, route) => sum + route.weight, 0);
    for (const route of tier) {
      if (explained.some((entry) => entry.route.providerId === route.providerId)) continue;
      explained.push({ route, share: route.weight / total });
    }
  }
  return explained;
}

function matchRoutes(snapshot: RoutingSnapshot, query: RouteQuery): readonly RouteRule[] {
  return snapshot.table.match({
    digits: query.to.startsWith('+') ? query.to.slice(1) : query.to,
    accountId: query.accountId,
    from: query.from,
    excludeProviders: query.excludeProviders,
  });
}

/** `group` arrives sorted by priority; each run of equal priority is split into one tier. */
function priorityTiers(group: readonly RouteRule[]): RouteRule[][] {
  const tiers: RouteRule[][] = [];
  let tier: RouteRule[] = [];
  for (const route of group) {
    if (tier.length > 0 && tier[0]?.priority !== route.priority) {
      tiers.push(tier);
      tier = [];
    }
    tier.push(route);
  }
  if (tier.length > 0) tiers.push(tier);
  return tiers;
}

/** Weighted draw without replacement within each priority tier; tiers keep their order. */
function drawOrder(group: readonly RouteRule[], random: RandomSource): RouteRule[] {
  if (group.length <= 1) return [...group];
  const ordered: RouteRule[] = [];
  for (const tier of priorityTiers(group)) {
    let total = tier.reduce((sum, route) => sum + route.weight, 0);
    while (tier.length > 1) {
      let remaining = random() * total;
      let index = 0;
      while (index < tier.length - 1 && (remaining -= (tier[index] as RouteRule).weight) >= 0) index += 1;
      const [chosen] = tier.splice(index, 1) as [RouteRule];
      ordered.push(chosen);
      total -= chosen.weight;
    }
    ordered.push(...tier);
  }
  return ordered;
}
