import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AdminConflictError, AdminNotFoundError } from '../admin/errors';
import { isPrismaError, storableText, validate, wholeNumber } from '../admin/validate';
import type { Database } from '../db/client';
import type { Account, ApiKey } from '../generated/prisma/client';
import { generateApiKey, generateCallbackSecret } from './keys';

// ---------------------------------------------------------------------------------------
// Input schemas, shared by the REST API and the CLI.

// Used in routes (`account:`), search attributes (SmsAccount) and message ids.
const accountId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
const accountName = storableText().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const label = storableText().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

const accountDefinition = z.strictObject({
  id: accountId,
  name: accountName,
  maxMessagesPerSecond: wholeNumber(1).nullable().optional(),
  dailyMessageCap: wholeNumber(1).nullable().optional(),
});

const accountChanges = z
  .strictObject({
    name: accountName,
    // null removes the quota.
    maxMessagesPerSecond: wholeNumber(1).nullable(),
    dailyMessageCap: wholeNumber(1).nullable(),
    enabled: z.boolean(),
  })
  .partial()
  .refine((changes) => Object.keys(changes).length > 0, 'give at least one field to change');

const keyRequest = z.strictObject({ label: label.optional() });

// ---------------------------------------------------------------------------------------
// Output

export interface AccountView {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly disabledAt: string | null;
  readonly maxMessagesPerSecond: number | null;
  readonly dailyMessageCap: number | null;
  readonly createdAt: string;
}

/** One account with the key its customer verifies client callbacks with. */
export interface AccountDetails extends AccountView {
  readonly callbackSecret: string;
}

/** A key as lists show it: never the key, never its hash. */
export interface ApiKeyView {
  readonly id: string;
  readonly account: string;
  readonly prefix: string | null;
  readonly label: string | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export interface IssuedApiKey extends ApiKeyView {
  /** The key itself: shown this once, stored only as a hash. */
  readonly key: string;
}

function accountView(account: Account): AccountView {
  return {
    id: account.id,
    name: account.name,
    enabled: account.disabledAt === null,
    disabledAt: account.disabledAt?.toISOString() ?? null,
    maxMessagesPerSecond: account.maxMessagesPerSecond,
    dailyMessageCap: account.dailyMessageCap,
    createdAt: account.createdAt.toISOString(),
  };
}

function accountDetails(account: Account): AccountDetails {
  return { ...accountView(account), callbackSecret: account.callbackSecret };
}

function keyView(key: ApiKey): ApiKeyView {
  return {
    id: key.id,
    account: key.accountId,
    prefix: key.prefix,
    label: key.label,
    createdAt: key.createdAt.toISOString(),
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

// ---------------------------------------------------------------------------------------
// The service

/**
 * Customer accounts and their API keys, for the admin REST API and the CLI alike. A disabled
 * account or a revoked key is refused by every API process within its authenticator's cache time.
 */
export class AccountAdmin {
  constructor(private readonly db: Database) {}

  async listAccounts(): Promise<AccountView[]> {
    return (await this.db.account.findMany({ orderBy: { id: 'asc' } })).map(accountView);
  }

  async getAccount(id: string): Promise<AccountDetails> {
    const account = await this.db.account.findUnique({ where: { id } });
    if (!account) throw new AdminNotFoundError('account', id);
    return accountDetails(account);
  }

  async createAccount(input: unknown): Promise<AccountDetails> {
    const definition = validate(accountDefinition, input);
    try {
      // The callback secret is the column's default: random, made by the database.
      return accountDetails(await this.db.account.create({ data: definition }));
    } catch (error) {
      if (isPrismaError(error, 'P2002')) throw new AdminConflictError(`account ${definition.id} already exists`, 'id');
      throw error;
    }
  }

  /** Name, quotas, and `enabled: false` to cut the account off (its keys are refused) or `true` to restore it. */
  async updateAccount(id: string, input: unknown): Promise<AccountDetails> {
    const { enabled, ...fields } = validate(accountChanges, input);
    return this.changeAccount(id, { ...fields, ...(enabled === undefined ? {} : { disabledAt: enabled ? null : new Date() }) });
  }

  async disableAccount(id: string): Promise<AccountDetails> {
    return this.updateAccount(id, { enabled: false });
  }

  /** A new callback signing secret; callbacks are signed with it within the notifier's cache time. */
  async rotateCallbackSecret(id: string): Promise<AccountDetails> {
    return this.changeAccount(id, { callbackSecret: generateCallbackSecret() });
  }

  async issueKey(accountId: string, input: unknown = {}): Promise<IssuedApiKey> {
    const request = validate(keyRequest, input);
    const account = await this.db.account.findUnique({ where: { id: accountId }, select: { id: true } });
    if (!account) throw new AdminNotFoundError('account', accountId);
    const { key, keyHash, prefix } = generateApiKey();
    const row = await this.db.apiKey.create({ data: { id: randomUUID(), accountId, keyHash, prefix, label: request.label ?? null } });
    return { ...keyView(row), key };
  }

  async listKeys(accountId: string): Promise<ApiKeyView[]> {
    const account = await this.db.account.findUnique({ where: { id: accountId }, include: { apiKeys: { orderBy: { createdAt: 'asc' } } } });
    if (!account) throw new AdminNotFoundError('account', accountId);
    return account.apiKeys.map(keyView);
  }

  /** Revoking twice is harmless: the first revocation time is kept. */
  async revokeKey(id: string): Promise<ApiKeyView> {
    const key = await this.db.apiKey.findUnique({ where: { id } });
    if (!key) throw new AdminNotFoundError('key', id);
    if (key.revokedAt) return keyView(key);
    return keyView(await this.db.apiKey.update({ where: { id }, data: { revokedAt: new Date() } }));
  }

  private async changeAccount(id: string, data: Partial<Pick<Account, 'name' | 'maxMessagesPerSecond' | 'dailyMessageCap' | 'disabledAt' | 'callbackSecret'>>): Promise<AccountDetails> {
    try {
      return accountDetails(await this.db.account.update({ where: { id }, data }));
    } catch (error) {
      if (isPrismaError(error, 'P2025')) throw new AdminNotFoundError('account', id);
      throw error;
    }
  }
}
