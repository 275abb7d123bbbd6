import { queryRows, type Database } from '../db/client';
import { Prisma } from '../generated/prisma/client';

/** Why a number is on an account's suppression list. */
export type SuppressionReason = 'opt_out' | 'provider' | 'manual';

export interface SuppressionEntry {
  readonly accountId: string;
  readonly number: string;
  readonly reason: SuppressionReason | string;
  readonly source: string | null;
  readonly createdAt: Date;
}

/** How long a verdict is reused: a change made by another process shows within this (≤ 1 s by the issue). */
const DEFAULT_CACHE_MS = 500;
/** Random destinations must not grow the cache without bound. */
const MAX_CACHED_PAIRS = 100_000;

/**
 * An account's "do not send" list. The send path asks `isSuppressed` before every submit, so
 * verdicts are cached briefly; a change made through this object is seen at once in this process
 * and within `cacheMs` in every other.
 */
export class SuppressionList {
  constructor(
    private readonly db: Database,
    private readonly cacheMs = DEFAULT_CACHE_MS,
    private readonly cache = new Map<string, { suppressed: boolean; expiresAt: number }>(),
  ) {}

  /** The same list, its verdicts and their invalidation shared, read through other connections. */
  through(db: Database): SuppressionList {
    return new SuppressionList(db, this.cacheMs, this.cache);
  }

  async isSuppressed(accountId: string, number: string): Promise<boolean> {
    const key = pairKey(accountId, number);
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > now) return cached.suppressed;
    // Asked before every submit: straight to node-postgres (see executeStatement).
    const suppressed = (await queryRows(this.db, Prisma.sql`SELECT 1 FROM "Suppression" WHERE "accountId" = ${accountId} AND "number" = ${number}`)).length > 0;
    if (this.cache.size >= MAX_CACHED_PAIRS) this.cache.clear();
    this.cache.set(key, { suppressed, expiresAt: now + this.cacheMs });
    return suppressed;
  }

  /** Adds the pair; one already there keeps its first reason (the opt-out that put it there). */
  async add(accountId: string, number: string, reason: SuppressionReason, source: string | undefined): Promise<void> {
    await this.db.suppression.createMany({ data: [{ accountId, number, reason, source }], skipDuplicates: true });
    this.cache.delete(pairKey(accountId, number));
  }

  /**
   * A provider refused a message because its recipient opted out: the message's account stops
   * sending to that number on every provider.
   */
  async addRecipientOf(messageId: string, source: string): Promise<void> {
    await this.db.$executeRaw`
      INSERT INTO "Suppression" ("accountId", "number", "reason", "source")
      SELECT "accountId", "to", 'provider', ${source} FROM "Message" WHERE "id" = ${messageId}
      ON CONFLICT ("accountId", "number") DO NOTHING`;
  }

  /** True when the pair was on the list. */
  async remove(accountId: string, number: string): Promise<boolean> {
    const removed = await this.db.suppression.deleteMany({ where: { accountId, number } });
    this.cache.delete(pairKey(accountId, number));
    return removed.count > 0;
  }

  /** Newest first, at most `limit`; `number` narrows to one number. */
  list(accountId: string, options: { readonly number?: string; readonly limit: number }): Promise<SuppressionEntry[]> {
    return this.db.suppression.findMany({
      where: { accountId, ...(options.number ? { number: options.number } : {}) },
      orderBy: [{ createdAt: 'desc' }, { number: 'asc' }],
      take: options.limit,
    });
  }
}

function pairKey(accountId: string, number: string): string {
  return `${accountId}\u0000${number}`;
}
