import type { Database } from '../db/client';
import type { KeywordReply } from '../domain/keyword-reply';
import type { RouteCandidate, StatusChange } from '../domain/message';
import { confirmsOwnOptOut } from '../inbound/keyword-replies';
import type { RoutingCatalog } from '../routing/catalog';
import { SuppressionList } from '../inbound/suppression';
import type { RouteQuery } from '../routing/resolve';
import { writeStatusChanges } from './status';

export interface RouteMessageInput {
  readonly query: RouteQuery;
  /** Changes that happened since the last write (accepted, a failed attempt…), recorded first. */
  readonly before: readonly StatusChange[];
  /** Where the `routed` event goes in the message's history; its provider is the one chosen. */
  readonly routed: Pick<StatusChange, 'messageId' | 'sequence' | 'occurredAt' | 'country'>;
  /** The message confirms an inbound keyword: it goes back through that provider only. */
  readonly keywordReply?: KeywordReply;
}

/** The recipient opted out of this account's messages: nothing may reach a provider. */
export interface SuppressedRoute {
  readonly suppressed: true;
}

export function createRoutingActivities(db: Database, catalog: RoutingCatalog, suppressions = new SuppressionList(db)) {
  /** Suppressed, unless it is the confirmation of the very opt-out that suppressed the number. */
  async function isHeldBack({ query, routed, keywordReply }: RouteMessageInput): Promise<boolean> {
    if (!(await suppressions.isSuppressed(query.accountId, query.to))) return false;
    return !(keywordReply && (await confirmsOwnOptOut(db, keywordReply, { messageId: routed.messageId, accountId: query.accountId, to: query.to })));
  }

  return {
    /**
     * Picks the provider for the message's next attempt and records it as `routed`, together with
     * the changes before it: one local activity and one write where three would do the same.
     * Undefined when no route (or no untried provider) is left; suppressed when the account's
     * suppression list has the recipient (checked before every attempt, so a STOP that arrives
     * while a message waits to be retried still holds).
     */
    async routeMessage(input: RouteMessageInput): Promise<RouteCandidate | SuppressedRoute | undefined> {
      const { query, keywordReply } = input;
      if (await isHeldBack(input)) {
        await writeStatusChanges(db, input.before);
        return { suppressed: true };
      }
      const candidate = await catalog.firstCandidate(keywordReply ? { ...query, pinnedProvider: keywordReply.providerId } : query);
      const routed: StatusChange[] = candidate ? [{ ...input.routed, status: 'routed', providerId: candidate.providerId }] : [];
      await writeStatusChanges(db, [...input.before, ...routed]);
      return candidate;
    },
  };
}
