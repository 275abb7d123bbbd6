import type { Database } from '../db/client';
import { ACCOUNT_CACHE_MS } from './keys';

/** The account is gone: its callbacks cannot be signed. */
export class UnknownAccountError extends Error {
  override readonly name = 'UnknownAccountError';
}

/**
 * Each account's callback signing secret, read when a callback is sent and cached briefly, so the
 * secret never travels in a workflow's input or history; a rotated secret is used within `cacheMs`.
 */
export class CallbackSecrets {
  private readonly cache = new Map<string, { secret: string; expiresAt: number }>();

  constructor(
    private readonly db: Database,
    private readonly cacheMs = ACCOUNT_CACHE_MS,
  ) {}

  async secretFor(accountId: string): Promise<string> {
    const now = Date.now();
    const cached = this.cache.get(accountId);
    if (cached && cached.expiresAt >= now) return cached.secret;
    const account = await this.db.account.findUnique({ where: { id: accountId }, select: { callbackSecret: true } });
    if (!account) throw new UnknownAccountError(`no account ${accountId}`);
    this.cache.set(accountId, { secret: account.callbackSecret, expiresAt: now + this.cacheMs });
    return account.callbackSecret;
  }

  /** For callbacks of workflows started before the account id travelled with them. */
  async secretForMessage(messageId: string): Promise<string> {
    const message = await this.db.message.findUnique({ where: { id: messageId }, select: { accountId: true } });
    if (!message) throw new UnknownAccountError(`no message ${messageId}`);
    return this.secretFor(message.accountId);
  }
}
