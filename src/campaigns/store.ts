import type { Database } from '../db/client';
import { campaignMessageId, type CampaignContent, type CampaignRecipientInput } from '../client/request';

/** Most recipients one campaign may have. */
export const MAX_CAMPAIGN_RECIPIENTS = 100_000;

/** Recipients per CampaignRecipientPage row. */
export const RECIPIENT_PAGE_SIZE = 1000;

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

/** What the campaign workflow made of a recipient it reached. */
export interface ReachedRecipient {
  readonly position: number;
  readonly messageId: string;
  readonly state: 'started' | 'rejected';
  readonly errorReason?: string;
}

/**
 * Recipients by status: a started message's status once its workflow has written it (`accepted`
 * before), `rejected` for numbers that cannot be sent to, and the recipients not reached yet as
 * `pending`, or `cancelled` once the campaign is.
 */
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
        // One statement: PostgreSQL cuts the list into pages, so 100,000 recipients are 100 rows.
        await tx.$executeRaw`
          INSERT INTO "CampaignRecipientPage" ("campaignId", "page", "numbers", "clientRefs")
          SELECT ${campaign.id}, ("position" - 1) / ${RECIPIENT_PAGE_SIZE}, array_agg("to" ORDER BY "position"), array_agg("clientRef" ORDER BY "position")
          FROM unnest(${campaign.recipients.map((recipient) => recipient.to)}::text[], ${campaign.recipients.map((recipient) => recipient.clientRef ?? '')}::text[])
            WITH ORDINALITY AS recipient("to", "clientRef", "position")
          GROUP BY 2`;
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

  /** The recipients at positions `fromPosition` to `fromPosition + limit - 1`, with their message ids. */
  async recipients(campaign: Pick<StoredCampaign, 'id' | 'accountId'>, fromPosition: number, limit: number): Promise<CampaignRecipientInput[]> {
    const pages = await this.db.campaignRecipientPage.findMany({
      where: { campaignId: campaign.id, page: { gte: Math.floor(fromPosition / RECIPIENT_PAGE_SIZE), lte: Math.floor((fromPosition + limit - 1) / RECIPIENT_PAGE_SIZE) } },
      orderBy: { page: 'asc' },
    });
    return pages.flatMap((page) =>
      page.numbers.flatMap((to, index) => {
        const position = page.page * RECIPIENT_PAGE_SIZE + index;
        if (position < fromPosition || position >= fromPosition + limit) return [];
        const clientRef = page.clientRefs[index] || null;
        return [{ position, to, clientRef, messageId: campaignMessageId(campaign.accountId, campaign.id, position, clientRef ?? undefined) }];
      }),
    );
  }

  /** Records what became of the recipients; a retried chunk records the same again, harmlessly. */
  async record(campaignId: string, recipients: readonly ReachedRecipient[]): Promise<void> {
    if (recipients.length === 0) return;
    await this.db.$executeRaw`
      INSERT INTO "CampaignRecipient" ("campaignId", "position", "messageId", "state", "errorReason")
      SELECT ${campaignId}, * FROM unnest(
        ${recipients.map((recipient) => recipient.position)}::int[],
        ${recipients.map((recipient) => recipient.messageId)}::text[],
        ${recipients.map((recipient) => recipient.state)}::text[],
        ${recipients.map((recipient) => recipient.errorReason ?? null)}::text[]
      )
      ON CONFLICT DO NOTHING`;
  }

  async complete(campaignId: string): Promise<void> {
    await this.db.campaign.updateMany({ where: { id: campaignId, completedAt: null }, data: { completedAt: new Date() } });
  }

  /** Sets the cancel flag the start activity checks before every chunk; true the first time. */
  async cancel(campaignId: string): Promise<boolean> {
    const { count } = await this.db.campaign.updateMany({ where: { id: campaignId, cancelledAt: null }, data: { cancelledAt: new Date() } });
    return count === 1;
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

  /** Recipients by status, the reached ones joined with their Message rows. */
  async counts(campaign: Pick<StoredCampaign, 'id' | 'recipientCount' | 'cancelledAt'>): Promise<CampaignCounts> {
    const rows = await this.db.$queryRaw<{ status: string; count: number }[]>`
      SELECT CASE WHEN r."state" = 'started' THEN COALESCE(m."status"::text, 'accepted') ELSE r."state" END AS "status", count(*)::int AS "count"
      FROM "CampaignRecipient" r LEFT JOIN "Message" m ON m."id" = r."messageId" AND r."state" = 'started'
      WHERE r."campaignId" = ${campaign.id}
      GROUP BY 1`;
    const counts: Record<string, number> = Object.fromEntries(rows.map((row) => [row.status, row.count]));
    const unreached = campaign.recipientCount - rows.reduce((sum, row) => sum + row.count, 0);
    const key = campaign.cancelledAt ? 'cancelled' : 'pending';
    if (unreached > 0) counts[key] = (counts[key] ?? 0) + unreached;
    return counts;
  }
}
