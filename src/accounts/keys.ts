import { createHash, randomBytes } from 'node:crypto';

/**
 * How long an API or worker process reuses what it read about a key or an account: a revoked key, a
 * disabled account, a changed quota or a rotated callback secret takes effect everywhere within it.
 */
export const ACCOUNT_CACHE_MS = 10_000;

/** Every issued key starts so; a key found in a log or a repository is recognisable as ours. */
const KEY_SCHEME = 'smsr_';
/** Characters of a key kept in clear (scheme included), enough to tell an account's keys apart. */
const PREFIX_LENGTH = 12;

/** Keys are 256 random bits: a fast hash is enough, there is nothing to brute-force. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface NewApiKey {
  /** Shown once to whoever issued it; never stored. */
  readonly key: string;
  readonly keyHash: string;
  readonly prefix: string;
}

export function generateApiKey(): NewApiKey {
  const key = `${KEY_SCHEME}${randomBytes(32).toString('base64url')}`;
  return { key, keyHash: hashApiKey(key), prefix: key.slice(0, PREFIX_LENGTH) };
}

/** A client callback signing key: 256 random bits, hex. */
export function generateCallbackSecret(): string {
  return randomBytes(32).toString('hex');
}
