import type { Database } from '../db/client';

export interface InboundStats {
  /** Messages per receiving number (ours: long number or short code). */
  readonly byNumber: readonly { readonly number: string; readonly total: number }[];
  /** Messages per sender country; null where the sender's number names none (a short code). */
  readonly byCountry: readonly { readonly country: string | null; readonly total: number }[];
  /** Opt-out and opt-in keywords per UTC day, days without either left out. */
  readonly optOutsPerDay: readonly { readonly day: string; readonly optOuts: number; readonly optIns: number }[];
}

interface OptOutDay {
  day: Date;
  optOuts: number;
  optIns: number;
}

/**
 * The account's inbound messages received in [from, to): per receiving number, per sender country,
 * and the opt-outs and opt-ins among them per UTC day. Read through the (accountId, receivedAt) index.
 */
export async function queryInboundStats(db: Database, accountId: string, range: { readonly from: Date; readonly to: Date }): Promise<InboundStats> {
  const where = { accountId, receivedAt: { gte: range.from, lt: range.to } };
  const [byNumber, byCountry, optOutsPerDay] = await Promise.all([
    db.inboundMessage.groupBy({ by: ['to'], where, _count: { _all: true }, orderBy: { to: 'asc' } }),
    db.inboundMessage.groupBy({ by: ['country'], where, _count: { _all: true }, orderBy: { country: 'asc' } }),
    db.$queryRaw<OptOutDay[]>`
      SELECT date_trunc('day', "receivedAt") AS day,
             count(*) FILTER (WHERE keyword = 'opt_out')::int AS "optOuts",
             count(*) FILTER (WHERE keyword = 'opt_in')::int AS "optIns"
      FROM "InboundMessage"
      WHERE "accountId" = ${accountId} AND "receivedAt" >= ${range.from} AND "receivedAt" < ${range.to}
        AND keyword IN ('opt_out', 'opt_in')
      GROUP BY 1
      ORDER BY 1`,
  ]);
  return {
    byNumber: byNumber.map((group) => ({ number: group.to, total: group._count._all })),
    byCountry: byCountry.map((group) => ({ country: group.country, total: group._count._all })),
    optOutsPerDay: optOutsPerDay.map((day) => ({ day: day.day.toISOString().slice(0, 10), optOuts: day.optOuts, optIns: day.optIns })),
  };
}
