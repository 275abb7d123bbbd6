import type { FastifyRequest } from 'fastify';
import { ACCOUNT_CACHE_MS, hashApiKey } from '../accounts/keys';
import type { Database } from '../db/client';
import { ApiError } from './errors';

const MAX_CACHED_KEYS = 10_000;

/**
 * Resolves `Authorization: Bearer <key>` to an account. Keys are stored hashed; a verdict is cached
 * briefly so the submit path does not query the database per message, and a revoked key or a
 * disabled account stops working within `cacheMs`.
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, { accountId: string | undefined; expiresAt: number }>();

  constructor(
    private readonly db: Database,
    private readonly cacheMs = ACCOUNT_CACHE_MS,
  ) {}

  async accountFor(request: FastifyRequest): Promise<string> {
    const header = request.headers.authorization;
    const key = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
    if (!key) throw new ApiError(401, 'unauthorized', 'missing "Authorization: Bearer <api key>" header', 'authorization');
    const hash = hashApiKey(key);
    const now = Date.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.expiresAt < now) {
      const row = await this.db.apiKey.findUnique({ where: { keyHash: hash }, select: { accountId: true, revokedAt: true, account: { select: { disabledAt: true } } } });
      const valid = row !== null && row.revokedAt === null && row.account.disabledAt === null;
      entry = { accountId: valid ? row.accountId : undefined, expiresAt: now + this.cacheMs };
      // Random wrong keys must not grow the cache without bound.
      if (this.cache.size >= MAX_CACHED_KEYS) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (!entry.accountId) throw new ApiError(401, 'unauthorized', 'API key is not valid', 'authorization');
    return entry.accountId;
  }
}
