import { setTimeout as delay } from 'node:timers/promises';
import type { Database } from '../db/client';
import { Prisma, type Provider } from '../generated/prisma/client';
import type { RouteCandidate, RouteChooser } from '../domain/message';
import { resolveCandidates, type RouteQuery } from './resolve';
import { RouteTable, type RouteMatcher, type RouteRule } from './route-table';

export interface RoutingSnapshot {
  readonly providers: ReadonlyMap<string, Provider>;
  readonly routes: readonly RouteRule[];
  /** Routes of enabled providers, indexed for resolution. */
  readonly table: RouteMatcher<RouteRule>;
}

/**
 * The route columns resolution reads. Leaving out price and the timestamps makes loading 100k
 * routes about three times faster: Prisma converts every Decimal and Date it returns.
 */
export const ROUTE_RULE_FIELDS = {
  id: true,
  prefix: true,
  accountId: true,
  sender: true,
  providerId: true,
  priority: true,
  weight: true,
} as const satisfies Prisma.RouteSelect;

export function buildSnapshot(providers: readonly Provider[], routes: readonly RouteRule[]): RoutingSnapshot {
  const byId = new Map(providers.map((provider) => [provider.id, provider]));
  return { providers: byId, routes, table: new RouteTable(routes, (route) => byId.get(route.providerId)?.enabled === true) };
}

/**
 * Changes whenever a provider or route is added, changed or removed by Prisma or the admin
 * service, which both set updatedAt. The sums catch an update whose timestamp is not the newest,
 * as from a machine with a slow clock. One aggregate scan (about 20 ms over 100k routes) costs far
 * less than loading every route and rebuilding the tree.
 */
const FINGERPRINT_SQL = Prisma.sql`
  SELECT concat_ws('/',
    (SELECT concat_ws(':', count(*), max("updatedAt"), sum(extract(epoch FROM "updatedAt"))) FROM "Provider"),
    (SELECT concat_ws(':', count(*), max("updatedAt"), sum(extract(epoch FROM "updatedAt"))) FROM "Route")
  ) AS fingerprint`;

interface FingerprintRow {
  readonly fingerprint: string;
}

/**
 * Providers and routes, read from PostgreSQL and kept in memory. At most once per `maxAgeMs` a
 * cheap fingerprint query tells whether anything changed; only then are the tables reloaded and
 * the prefix tree rebuilt. A change takes effect within about `maxAgeMs` without a restart.
 */
export class RoutingCatalog {
  private snapshot: RoutingSnapshot | undefined;
  private fingerprint: string | undefined;
  private checkedAt = 0;
  private refreshing: Promise<RoutingSnapshot> | undefined;

  constructor(
    private readonly db: Database,
    private readonly maxAgeMs = 1000,
  ) {}

  /**
   * Under steady traffic look-ups never wait on the database: the snapshot held is answered while
   * the check runs in the background. After a quiet spell the check is awaited, so the first message
   * does not take a route that changed long ago, but for at most `maxAgeMs`: a failed or slow check
   * falls back to the snapshot held, because routing on a slightly old table beats not routing.
   */
  async current(): Promise<RoutingSnapshot> {
    const held = this.snapshot;
    if (!held) return this.refresh();
    const age = Date.now() - this.checkedAt;
    if (age <= this.maxAgeMs) return held;
    const refreshed = this.refresh().catch(() => held);
    if (age <= 2 * this.maxAgeMs) return held;
    return Promise.race([refreshed, delay(this.maxAgeMs, held, { ref: false })]);
  }

  /** The provider a message goes to first, from the table as `current` holds it; undefined when no route applies. */
  async firstCandidate(query: RouteQuery): Promise<RouteCandidate | undefined> {
    return resolveCandidates(await this.current(), query)[0];
  }

  /**
   * A message's first route as its starter chooses it (MessageRequest.route). A table that cannot
   * be read now leaves routing to the workflow: the message is started all the same.
   */
  readonly routeAtAcceptance: RouteChooser = (request) =>
    this.firstCandidate({ to: request.to, accountId: request.accountId, from: request.from }).catch(() => undefined);

  async provider(providerId: string): Promise<Provider | undefined> {
    return (await this.current()).providers.get(providerId);
  }

  /** Checks for a change now (concurrent callers share one check) and reloads if there was one. */
  refresh(): Promise<RoutingSnapshot> {
    this.refreshing ??= this.check().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async check(): Promise<RoutingSnapshot> {
    const startedAt = Date.now();
    const [row] = await this.db.$queryRaw<FingerprintRow[]>(FINGERPRINT_SQL);
    if (!this.snapshot || row?.fingerprint !== this.fingerprint) return this.load(startedAt);
    this.checkedAt = startedAt;
    return this.snapshot;
  }

  private async load(startedAt: number): Promise<RoutingSnapshot> {
    // One repeatable-read transaction: the fingerprint stored describes exactly the rows loaded.
    const [rows, providers, routes] = await this.db.$transaction(
      [this.db.$queryRaw<FingerprintRow[]>(FINGERPRINT_SQL), this.db.provider.findMany(), this.db.route.findMany({ select: ROUTE_RULE_FIELDS })],
      { isolationLevel: Prisma.TransactionIsolationLevel.RepeatableRead },
    );
    const snapshot = buildSnapshot(providers, routes);
    this.snapshot = snapshot;
    this.fingerprint = rows[0]?.fingerprint;
    this.checkedAt = startedAt;
    return snapshot;
  }
}
