import { SharedLookups } from '../concurrency';
import type { Database } from '../db/client';
import { ACCOUNT_CACHE_MS } from './keys';

/** The account has used its quota; the request may be retried after `retryAfterSeconds`. */
export class QuotaExceededError extends Error {
  override readonly name = 'QuotaExceededError';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

interface AccountLimits {
  readonly maxMessagesPerSecond: number | null;
  readonly dailyMessageCap: number | null;
  readonly expiresAt: number;
}

/** A per-account token bucket holding one second's worth of messages. */
interface Bucket {
  tokens: number;
  updatedAt: number;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * Each account's optional throughput quota and daily cap, checked at submit.
 *
 * The daily cap is a counter in PostgreSQL (`AccountDailyUsage`, one row per account per UTC day)
 * raised by one conditional upsert, so every API replica draws on the same count and two replicas
 * can never both take the last messages of the day. The per-second quota is a token bucket in
 * this process: a database round trip per submit would cost more than the submit, so with N API
 * replicas an account can reach N times its quota (the README says so).
 */
export class SubmitQuota {
  private readonly limits = new Map<string, AccountLimits>();
  private readonly limitLookups = new SharedLookups<AccountLimits>();
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly db: Database,
    private readonly cacheMs = ACCOUNT_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `messages` from the account's quotas, or throws QuotaExceededError and takes nothing. */
  async admit(accountId: string, messages: number): Promise<void> {
    const limits = await this.limitsOf(accountId);
    const taken = limits.maxMessagesPerSecond === null ? 0 : this.takeTokens(accountId, limits.maxMessagesPerSecond, messages);
    if (limits.dailyMessageCap === null) return;
    try {
      await this.countToday(accountId, limits.dailyMessageCap, messages);
    } catch (error) {
      this.returnTokens(accountId, taken);
      throw error;
    }
  }

  /**
   * Takes `messages` from the account's daily cap only: a campaign's recipients all count on the
   * day it is accepted, while its own workflow paces the starts, so the per-second quota (meant for
   * the API's submit rate) does not apply to them.
   */
  async admitDaily(accountId: string, messages: number): Promise<void> {
    const limits = await this.limitsOf(accountId);
    if (limits.dailyMessageCap !== null) await this.countToday(accountId, limits.dailyMessageCap, messages);
  }

  private takeTokens(accountId: string, perSecond: number, messages: number): number {
    const now = this.now();
    const bucket = this.buckets.get(accountId) ?? { tokens: perSecond, updatedAt: now };
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.updatedAt) / 1000) * perSecond);
    bucket.updatedAt = now;
    this.buckets.set(accountId, bucket);
    // A batch larger than one second's worth passes on a full bucket and leaves it in debt, so the
    // account still averages its quota instead of never getting a big batch through.
    const needed = Math.min(messages, perSecond);
    if (bucket.tokens < needed) {
      const retryAfterSeconds = Math.max(1, Math.ceil((needed - bucket.tokens) / perSecond));
      throw new QuotaExceededError(`account ${accountId} may submit ${perSecond} messages per second`, retryAfterSeconds);
    }
    bucket.tokens -= messages;
    return messages;
  }

  private returnTokens(accountId: string, tokens: number): void {
    const bucket = this.buckets.get(accountId);
    if (bucket) bucket.tokens += tokens;
  }

  private async countToday(accountId: string, cap: number, messages: number): Promise<void> {
    const now = this.now();
    const day = new Date(now).toISOString().slice(0, 10);
    const retryAfterSeconds = Math.max(1, Math.ceil((DAY_MS - (now % DAY_MS)) / 1000));
    const refused = new QuotaExceededError(`account ${accountId} may submit ${cap} messages per day (UTC)`, retryAfterSeconds);
    if (messages > cap) throw refused;
    // Counts only if the day's total stays within the cap: one statement, atomic across replicas.
    const rows = await this.db.$queryRaw<{ messages: number }[]>`
      INSERT INTO "AccountDailyUsage" ("accountId", "day", "messages") VALUES (${accountId}, ${day}::date, ${messages})
      ON CONFLICT ("accountId", "day") DO UPDATE SET "messages" = "AccountDailyUsage"."messages" + EXCLUDED."messages"
      WHERE "AccountDailyUsage"."messages" + EXCLUDED."messages" <= ${cap}
      RETURNING "messages"`;
    if (rows.length === 0) throw refused;
  }

  private async limitsOf(accountId: string): Promise<AccountLimits> {
    const now = this.now();
    const cached = this.limits.get(accountId);
    if (cached && cached.expiresAt >= now) return cached;
    return this.limitLookups.run(accountId, async () => {
      const account = await this.db.account.findUnique({ where: { id: accountId }, select: { maxMessagesPerSecond: true, dailyMessageCap: true } });
      const limits = { maxMessagesPerSecond: account?.maxMessagesPerSecond ?? null, dailyMessageCap: account?.dailyMessageCap ?? null, expiresAt: now + this.cacheMs };
      this.limits.set(accountId, limits);
      return limits;
    });
  }
}
