import type { Database } from '../db/client';
import { campaignMessageId, type CampaignContent, type CampaignRecipientInput } from '../client/request';
import { MESSAGE_STATUSES } from '../domain/status';

/** Most recipients one campaign may have. */
export const MAX_CAMPAIGN_RECIPIENTS = 100_000;

/** Rows per INSERT: 25k rows of four arrays keep each statement's parameters a few MB. */
const INSERT_CHUNK = 25_000;

export interface CampaignRecipient {
  readonly to: string;
  readonly clientRef?: string;
}

export interface NewCampaign {
  readonly id: string;
  readonly accountId: string;
  readonly clientRef?: string;
  readonly content: CampaignContent;
  readonly recipients: readonly CampaignRecipient[];
}

/** What a campaign's start activity needs of it. */
export interface StoredCampaign {
  readonly id: string;
  readonly accountId: string;
  readonly clientRef: string | null;
  readonly content: CampaignContent;
  readonly recipientCount: number;
  readonly createdAt: Date;
  readonly cancelledAt: Date | null;
  readonly completedAt: Date | null;
}

/** A recipient's state before its message exists: `pending` until started, `rejected` for a number that cannot be sent to. */
export type RecipientState = 'pending' | 'started' | 'rejected' | 'cancelled';

/** Recipients by status: a message's status once its workflow has written it, else the recipient's own state. */
export type CampaignCounts = Readonly<Record<string, number>>;

/** Statuses a cancel may still stop: the message has not reached a provider. */
const CANCELLABLE = ['accepted', 'scheduled', 'routed'] as const;

/** Campaigns and their recipients in PostgreSQL: the list never travels in a workflow payload. */
export class CampaignStore {
  constructor(private readonly db: Database) {}

  /**
   * Stores the campaign and its recipients in one transaction; false when a campaign with this id
   * (the same client reference) already exists, which is left as it was.
   */
  async create(campaign: NewCampaign): Promise<boolean> {
    const { content } = campaign;
    return this.db.$transaction(
      async (tx) => {
        const inserted = await tx.$executeRaw`
          INSERT INTO "Campaign" ("id", "accountId", "clientRef", "from", "body", "callbackUrl", "sendAt", "validitySeconds", "recipientCount")
          VALUES (${campaign.id}, ${campaign.accountId}, ${campaign.clientRef ?? null}, ${content.from}, ${content.body}, ${content.callbackUrl ?? null},
                  ${content.sendAt === undefined ? null : new Date(content.sendAt)}::timestamp(3), ${content.validitySeconds ?? null}::int, ${campaign.recipients.length})
          ON CONFLICT DO NOTHING`;
        if (inserted === 0) return false;
        for (let start = 0; start < campaign.recipients.length; start += INSERT_CHUNK) {
          const chunk = campaign.recipients.slice(start, start + INSERT_CHUNK);
          const positions = chunk.map((_, index) => start + index);
          await tx.$executeRaw`
            INSERT INTO "CampaignRecipient" ("campaignId", "position", "to", "clientRef", "messageId")
            SELECT ${campaign.id}, * FROM unnest(
              ${positions}::int[],
              ${chunk.map((recipient) => recipient.to)}::text[],
              ${chunk.map((recipient) => recipient.clientRef ?? null)}::text[],
              ${chunk.map((recipient, index) => campaignMessageId(campaign.accountId, campaign.id, start + index, recipient.clientRef))}::text[]
            )`;
        }
        return true;
      },
      { timeout: 120_000, maxWait: 10_000 },
    );
  }

  async find(id: string): Promise<StoredCampaign | undefined> {
    const row = await this.db.campaign.findUnique({ where: { id } });
    if (!row) return undefined;
    const content: CampaignContent = {
      from: row.from,
      body: row.body,
      ...(row.callbackUrl === null ? {} : { callbackUrl: row.callbackUrl }),
      ...(row.sendAt === null ? {} : { sendAt: row.sendAt.toISOString() }),
      ...(row.validitySeconds === null ? {} : { validitySeconds: row.validitySeconds }),
    };
    return { ...row, content };
  }

  /** Up to `limit` recipients still pending from `fromPosition` on, in order. */
  pending(campaignId: string, fromPosition: number, limit: number): Promise<CampaignRecipientInput[]> {
    return this.db.campaignRecipient.findMany({
      where: { campaignId, position: { gte: fromPosition }, state: 'pending' },
      orderBy: { position: 'asc' },
      take: limit,
      select: { position: true, to: true, clientRef: true, messageId: true },
    });
  }

  async mark(campaignId: string, positions: readonly number[], state: RecipientState, errorReason?: string): Promise<void> {
    if (positions.length === 0) return;
    await this.db.campaignRecipient.updateMany({ where: { campaignId, position: { in: [...positions] } }, data: { state, errorReason: errorReason ?? null } });
  }

  async complete(campaignId: string): Promise<void> {
    await this.db.campaign.updateMany({ where: { id: campaignId, completedAt: null }, data: { completedAt: new Date() } });
  }

  /** Sets the cancel flag the start activity checks before every chunk; true the first time. */
  async cancel(campaignId: string): Promise<boolean> {
    const { count } = await this.db.campaign.updateMany({ where: { id: campaignId, cancelledAt: null }, data: { cancelledAt: new Date() } });
    return count === 1;
  }

  /** Recipients never started of a cancelled campaign: they end `cancelled` without a message. */
  async cancelPending(campaignId: string): Promise<number> {
    const { count } = await this.db.campaignRecipient.updateMany({ where: { campaignId, state: 'pending' }, data: { state: 'cancelled' } });
    return count;
  }

  /** Started messages a cancel may still stop, after `afterPosition`, in order. */
  async cancellable(campaignId: string, afterPosition: number, limit: number): Promise<{ position: number; messageId: string }[]> {
    return this.db.$queryRaw<{ position: number; messageId: string }[]>`
      SELECT r."position", r."messageId" FROM "CampaignRecipient" r
      LEFT JOIN "Message" m ON m."id" = r."messageId"
      WHERE r."campaignId" = ${campaignId} AND r."state" = 'started' AND r."position" > ${afterPosition}
        AND (m."status" IS NULL OR m."status"::text = ANY(${[...CANCELLABLE]}::text[]))
      ORDER BY r."position" LIMIT ${limit}`;
  }

  /** Recipients by status, joined with their Message rows. */
  async counts(campaignId: string): Promise<CampaignCounts> {
    const rows = await this.db.$queryRaw<{ status: string; count: number }[]>`
      SELECT CASE WHEN r."state" = 'started' THEN COALESCE(m."status"::text, 'accepted') ELSE r."state" END AS "status", count(*)::int AS "count"
      FROM "CampaignRecipient" r LEFT JOIN "Message" m ON m."id" = r."messageId" AND r."state" = 'started'
      WHERE r."campaignId" = ${campaignId}
      GROUP BY 1`;
    return Object.fromEntries(rows.map((row) => [row.status, row.count]));
  }
}

/** Every status a campaign's count may name, in the order a reader expects them. */
export const CAMPAIGN_COUNT_KEYS = ['pending', ...MESSAGE_STATUSES.filter((status) => status !== 'cancelled' && status !== 'rejected'), 'rejected', 'cancelled'] as const;
