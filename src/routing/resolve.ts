import type { RouteCandidate } from '../domain/message';
import type { RoutingSnapshot } from './catalog';

export interface RouteQuery {
  /** E.164 with '+'. */
  readonly to: string;
  readonly accountId: string;
  readonly from: string;
}

/** Longest matching prefix first; within it, lower priority value first. Disabled providers are skipped. */
export function resolveCandidates(snapshot: RoutingSnapshot, query: RouteQuery): RouteCandidate[] {
  const digits = query.to.replace(/^\+/, '');
  const matching = snapshot.routes
    .filter((route) => route.prefix === '*' || digits.startsWith(route.prefix))
    .filter((route) => route.accountId === null || route.accountId === query.accountId)
    .filter((route) => route.sender === null || route.sender === query.from)
    .sort((a, b) => prefixLength(b.prefix) - prefixLength(a.prefix) || a.priority - b.priority);
  const candidates: RouteCandidate[] = [];
  for (const route of matching) {
    const provider = snapshot.providers.get(route.providerId);
    if (!provider?.enabled || candidates.some((c) => c.providerId === provider.id)) continue;
    candidates.push({
      providerId: provider.id,
      dlrTimeoutSeconds: provider.dlrTimeoutSeconds,
      deliveryGuarantee: provider.deliveryGuarantee,
    });
  }
  return candidates;
}

function prefixLength(prefix: string): number {
  return prefix === '*' ? 0 : prefix.length;
}
