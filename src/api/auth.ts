import type { FastifyRequest } from 'fastify';
import { ACCOUNT_CACHE_MS, hashApiKey } from '../accounts/keys';
import { SharedLookups } from '../concurrency';
import type { Database } from '../db/client';
import { ApiError } from './errors';

const MAX_CACHED_KEYS = 10_000;

interface Verdict {
  readonly accountId: string | undefined;
  readonly expiresAt: number;
}

/**
 * Resolves `Authorization: Bearer <key>` to an account. Keys are stored hashed; a verdict is cached
 * briefly so the submit path does not query the database per message, and a revoked key or a
 * disabled account stops working within `cacheMs`.
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, Verdict>();
  private readonly lookups = new SharedLookups<Verdict>();

  constructor(
    private readonly db: Database,
    private readonly cacheMs = ACCOUNT_CACHE_MS,
  ) {}

  async accountFor(request: FastifyRequest): Promise<string> {
    const header = request.headers.authorization;
    const key = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
    if (!key) throw new ApiError(401, 'unauthorized', 'missing "Authorization: Bearer <api key>" header', 'authorization');
    const hash = hashApiKey(key);
    let entry = this.cache.get(hash);
    if (!entry || entry.expiresAt < Date.now()) entry = await this.lookups.run(hash, () => this.lookUp(hash));
    if (!entry.accountId) throw new ApiError(401, 'unauthorized', 'API key is not valid', 'authorization');
    return entry.accountId;
  }

  private async lookUp(hash: string): Promise<Verdict> {
    const now = Date.now();
    const row = await this.db.apiKey.findUnique({ where: { keyHash: hash }, select: { accountId: true, revokedAt: true, account: { select: { disabledAt: true } } } });
    const valid = row !== null && row.revokedAt === null && row.account.disabledAt === null;
    const entry = { accountId: valid ? row.accountId : undefined, expiresAt: now + this.cacheMs };
    // Random wrong keys must not grow the cache without bound.
    if (this.cache.size >= MAX_CACHED_KEYS) this.cache.clear();
    this.cache.set(hash, entry);
    return entry;
  }
}
