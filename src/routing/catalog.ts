import type { Database } from '../db/client';
import type { Provider, Route } from '../generated/prisma/client';

export interface RoutingSnapshot {
  readonly providers: ReadonlyMap<string, Provider>;
  readonly routes: readonly Route[];
}

/**
 * Providers and routes, read from PostgreSQL and kept in memory. Look-ups never wait on the database
 * once loaded: a snapshot older than `maxAgeMs` is refreshed in the background, so a change takes
 * effect within about that long without a restart.
 */
export class RoutingCatalog {
  private snapshot: RoutingSnapshot | undefined;
  private loadedAt = 0;
  private refreshing: Promise<RoutingSnapshot> | undefined;

  constructor(
    private readonly db: Database,
    private readonly maxAgeMs = 1000,
  ) {}

  async current(): Promise<RoutingSnapshot> {
    if (!this.snapshot) return this.refresh();
    if (Date.now() - this.loadedAt > this.maxAgeMs) void this.refresh().catch(() => undefined);
    return this.snapshot;
  }

  async provider(providerId: string): Promise<Provider | undefined> {
    return (await this.current()).providers.get(providerId);
  }

  refresh(): Promise<RoutingSnapshot> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async load(): Promise<RoutingSnapshot> {
    const [providers, routes] = await Promise.all([this.db.provider.findMany(), this.db.route.findMany()]);
    const snapshot: RoutingSnapshot = { providers: new Map(providers.map((p) => [p.id, p])), routes };
    this.snapshot = snapshot;
    this.loadedAt = Date.now();
    return snapshot;
  }
}
