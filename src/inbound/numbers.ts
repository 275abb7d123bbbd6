import type { Database } from '../db/client';
import { MAX_KEYWORD_REPLY_CHARS } from '../domain/keyword-reply';
import { KeywordOverridesError, type KeywordOverrides, keywordTable } from '../domain/opt-out';
import { InvalidPhoneNumberError, normaliseInboundAddress } from '../domain/phone';
import { Prisma } from '../generated/prisma/client';
import { keywordOverridesSchema } from './keywords';
import { type SuppressionEntry, SuppressionList } from './suppression';

/** Input the numbers service refuses; `field` names the culprit, as the REST API reports it. */
export class InboundValidationError extends Error {
  override readonly name = 'InboundValidationError';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

export class InboundNotFoundError extends Error {
  override readonly name = 'InboundNotFoundError';
}

export class InboundConflictError extends Error {
  override readonly name = 'InboundConflictError';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

export interface OwnedNumberView {
  readonly number: string;
  readonly account: string;
  readonly providers: readonly string[];
  /** The shared short code's keyword its messages start with; null on a number of its own. */
  readonly keyword: string | null;
  readonly createdAt: string;
}

export interface SuppressionView {
  readonly account: string;
  readonly number: string;
  readonly reason: string;
  readonly source: string | null;
  readonly createdAt: string;
}

export interface InboundSettingsView {
  readonly account: string;
  readonly webhookUrl: string | null;
  readonly keywords: KeywordOverrides | null;
  /** Whether opt-outs and opt-ins get a confirmation, and its texts (null: the defaults). */
  readonly keywordReplies: boolean;
  readonly optOutReply: string | null;
  readonly optInReply: string | null;
}

/** What `configureInbound` changes; a field left out stays as it is. */
export interface InboundSettingsInput {
  readonly webhookUrl?: string | null;
  readonly keywords?: unknown;
  readonly keywordReplies?: boolean;
  readonly optOutReply?: string | null;
  readonly optInReply?: string | null;
}

const MAX_URL_CHARS = 2048;
const MAX_LISTED = 1000;

/**
 * Numbers owned by accounts, their inbound settings and their suppression lists: the work behind
 * the admin and client APIs and the CLI, so all three refuse the same input with the same words.
 */
export class NumbersService {
  readonly suppressions: SuppressionList;

  constructor(
    private readonly db: Database,
    suppressions?: SuppressionList,
  ) {
    this.suppressions = suppressions ?? new SuppressionList(db);
  }

  async addNumber(input: {
    readonly number: string;
    readonly account: string;
    readonly providers?: readonly string[];
    readonly keyword?: string | null;
  }): Promise<OwnedNumberView> {
    const number = address(input.number, 'number');
    const keyword = input.keyword === undefined || input.keyword === null ? null : sharedKeyword(input.keyword);
    await this.requireAccount(input.account);
    const providers = [...new Set(input.providers ?? [])];
    const known = await this.db.provider.findMany({ where: { id: { in: providers } }, select: { id: true } });
    const unknown = providers.find((provider) => !known.some((row) => row.id === provider));
    if (unknown) throw new InboundValidationError(`no provider ${unknown}`, 'providers');
    try {
      return numberView(await this.db.ownedNumber.create({ data: { number, accountId: input.account, providers, keyword } }));
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
        throw new InboundConflictError(`${number} is already owned`, 'number');
      }
      throw error;
    }
  }

  async listNumbers(filter: { readonly account?: string }): Promise<OwnedNumberView[]> {
    const rows = await this.db.ownedNumber.findMany({
      where: filter.account ? { accountId: filter.account } : {},
      orderBy: { number: 'asc' },
      take: MAX_LISTED,
    });
    return rows.map(numberView);
  }

  async removeNumber(number: string): Promise<void> {
    const removed = await this.db.ownedNumber.deleteMany({ where: { number: address(number, 'number') } });
    if (removed.count === 0) throw new InboundNotFoundError(`${number} is not owned by any account`);
  }

  /**
   * Sets the account's inbound webhook (null: none), keyword overrides (null: the defaults) and
   * keyword confirmations (texts null: the defaults); unset fields stay.
   */
  async configureInbound(account: string, input: InboundSettingsInput): Promise<InboundSettingsView> {
    await this.requireAccount(account);
    const webhookUrl = input.webhookUrl === undefined || input.webhookUrl === null ? input.webhookUrl : webhook(input.webhookUrl);
    const keywords = input.keywords === undefined || input.keywords === null ? input.keywords : overrides(input.keywords);
    const row = await this.db.account.update({
      where: { id: account },
      data: {
        ...(webhookUrl === undefined ? {} : { inboundWebhookUrl: webhookUrl }),
        ...(keywords === undefined ? {} : { keywordOverrides: keywords === null ? Prisma.DbNull : { ...keywords } }),
        ...(input.keywordReplies === undefined ? {} : { keywordReplies: input.keywordReplies }),
        ...(input.optOutReply === undefined ? {} : { optOutReplyText: replyText(input.optOutReply, 'optOutReply') }),
        ...(input.optInReply === undefined ? {} : { optInReplyText: replyText(input.optInReply, 'optInReply') }),
      },
      select: { id: true, inboundWebhookUrl: true, keywordOverrides: true, keywordReplies: true, optOutReplyText: true, optInReplyText: true },
    });
    const stored = keywordOverridesSchema.safeParse(row.keywordOverrides);
    return {
      account: row.id,
      webhookUrl: row.inboundWebhookUrl,
      keywords: stored.success ? stored.data : null,
      keywordReplies: row.keywordReplies,
      optOutReply: row.optOutReplyText,
      optInReply: row.optInReplyText,
    };
  }

  async listSuppressions(account: string, filter: { readonly number?: string; readonly limit?: number }): Promise<SuppressionView[]> {
    const number = filter.number === undefined ? undefined : address(filter.number, 'number');
    const rows = await this.suppressions.list(account, { number, limit: Math.min(filter.limit ?? MAX_LISTED, MAX_LISTED) });
    return rows.map(suppressionView);
  }

  async addSuppression(account: string, number: string, source: string): Promise<SuppressionView> {
    await this.requireAccount(account);
    const normalised = address(number, 'number');
    await this.suppressions.add(account, normalised, 'manual', source);
    const [entry] = await this.suppressions.list(account, { number: normalised, limit: 1 });
    if (!entry) throw new InboundNotFoundError(`${normalised} is not suppressed`);
    return suppressionView(entry);
  }

  async removeSuppression(account: string, number: string): Promise<void> {
    if (!(await this.suppressions.remove(account, address(number, 'number')))) {
      throw new InboundNotFoundError(`${number} is not on the suppression list of ${account}`);
    }
  }

  private async requireAccount(account: string): Promise<void> {
    if (!(await this.db.account.findUnique({ where: { id: account }, select: { id: true } }))) {
      throw new InboundValidationError(`no account ${account}`, 'account');
    }
  }
}

function address(value: string, field: string): string {
  try {
    return normaliseInboundAddress(value);
  } catch (error) {
    if (error instanceof InvalidPhoneNumberError) throw new InboundValidationError(error.message, field);
    throw error;
  }
}

/**
 * An http(s) URL. (Checking where it points, as SSRF protection, belongs with the status-callback
 * check once that exists: both are client webhooks.)
 */
function webhook(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !['http:', 'https:'].includes(url.protocol) || value.length > MAX_URL_CHARS) {
    throw new InboundValidationError(`webhookUrl must be an http or https URL of at most ${MAX_URL_CHARS} characters`, 'webhookUrl');
  }
  return url.toString();
}

function overrides(value: unknown): KeywordOverrides {
  const parsed = keywordOverridesSchema.safeParse(value);
  if (!parsed.success) throw new InboundValidationError(`keywords: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'keywords');
  try {
    keywordTable(parsed.data);
  } catch (error) {
    if (error instanceof KeywordOverridesError) throw new InboundValidationError(error.message, 'keywords');
    throw error;
  }
  return parsed.data;
}

/** One word of letters or digits, as GatewayAPI leases them; stored upper case, matched in any case. */
function sharedKeyword(value: string): string {
  const keyword = value.trim();
  if (!/^[\p{L}\p{N}]{1,32}$/u.test(keyword)) throw new InboundValidationError('keyword must be one word of at most 32 letters or digits', 'keyword');
  return keyword.toUpperCase();
}

/** A confirmation is one short SMS; null restores the default text. */
function replyText(value: string | null, field: string): string | null {
  if (value === null) return null;
  if (value.trim().length === 0 || value.length > MAX_KEYWORD_REPLY_CHARS) {
    throw new InboundValidationError(`${field} must be 1 to ${MAX_KEYWORD_REPLY_CHARS} characters`, field);
  }
  return value;
}

function numberView(row: { number: string; accountId: string; providers: string[]; keyword: string | null; createdAt: Date }): OwnedNumberView {
  return { number: row.number, account: row.accountId, providers: row.providers, keyword: row.keyword, createdAt: row.createdAt.toISOString() };
}

function suppressionView(entry: SuppressionEntry): SuppressionView {
  return { account: entry.accountId, number: entry.number, reason: entry.reason, source: entry.source, createdAt: entry.createdAt.toISOString() };
}
