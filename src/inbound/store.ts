import type { Database } from '../db/client';
import { withoutSharedKeyword } from '../domain/inbound';
import { countryOfNumber } from '../domain/phone';
import { INBOUND_NOTICE, INBOX_CHANNEL } from '../inbox/channel';
import type { InboundSms } from '../providers/types';

/** An inbound message as stored, whole: what the forwarder starts its workflow for. */
export interface StoredInbound {
  /** "<provider>:<provider message id>", also its workflow id. */
  readonly id: string;
  /** Null when nobody owns the number it was sent to. */
  readonly accountId: string | null;
  readonly from: string;
  readonly to: string;
  readonly created: boolean;
}

/** The outcome of one webhook call: a whole message, or a part still waiting for the others. */
export type ReceivedInbound = { readonly kind: 'message'; readonly message: StoredInbound } | { readonly kind: 'part_stored' };

export function inboundMessageId(providerId: string, providerMessageId: string): string {
  return `${providerId}:${providerMessageId}`;
}

type Transaction = Parameters<Parameters<Database['$transaction']>[0]>[0];

/**
 * The inbound inbox: one durable write per webhook call, idempotent on (provider, provider id), so
 * a provider's retry is the same row. A concatenated message's parts are stored one by one and
 * joined, whatever order they came in, when the last one arrives; nobody hears of it before that.
 */
export class InboundStore {
  constructor(private readonly db: Database) {}

  async receive(providerId: string, sms: InboundSms): Promise<ReceivedInbound> {
    if (!sms.concat || sms.concat.total === 1) {
      const message = await insertMessage(this.db, providerId, sms.providerMessageId, { ...sms, parts: 1 });
      return { kind: 'message', message };
    }
    return this.receivePart(providerId, sms, sms.concat);
  }

  private receivePart(providerId: string, sms: InboundSms, concat: NonNullable<InboundSms['concat']>): Promise<ReceivedInbound> {
    return this.db.$transaction(async (tx) => {
      // Parts of one message arrive at once, on parallel requests: one at a time per message, so
      // the last one to commit always sees every other.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`${providerId}|${sms.from}|${sms.to}|${concat.ref}`}))`;
      const existing = await tx.inboundPart.findUnique({
        where: { providerId_providerMessageId: { providerId, providerMessageId: sms.providerMessageId } },
      });
      if (existing?.messageId) {
        const message = await tx.inboundMessage.findUnique({ where: { id: existing.messageId }, select: { id: true, accountId: true, from: true, to: true } });
        if (message) return { kind: 'message', message: { ...message, created: false } };
      }
      if (!existing) {
        await tx.inboundPart.create({
          data: {
            providerId,
            providerMessageId: sms.providerMessageId,
            from: sms.from,
            to: sms.to,
            concatRef: concat.ref,
            part: concat.part,
            total: concat.total,
            text: sms.text,
            encoding: sms.encoding,
            receivedAt: sms.receivedAt,
          },
        });
      }
      const open = await tx.inboundPart.findMany({
        where: { providerId, from: sms.from, to: sms.to, concatRef: concat.ref, messageId: null, total: concat.total },
        orderBy: [{ part: 'asc' }, { createdAt: 'asc' }],
      });
      // A carrier's resend of a part has a new id: keep the first copy of each part number.
      const byPart = new Map<number, (typeof open)[number]>();
      for (const part of open) if (!byPart.has(part.part)) byPart.set(part.part, part);
      if (byPart.size < concat.total) return { kind: 'part_stored' };
      const parts = [...byPart.values()];
      const [first] = parts;
      if (!first) return { kind: 'part_stored' };
      const message = await insertMessage(tx, providerId, first.providerMessageId, {
        from: sms.from,
        to: sms.to,
        text: parts.map((part) => part.text).join(''),
        encoding: parts.some((part) => part.encoding === 'ucs2') ? 'ucs2' : first.encoding,
        receivedAt: parts.reduce((latest, part) => (part.receivedAt > latest ? part.receivedAt : latest), first.receivedAt).toISOString(),
        parts: parts.length,
        providerOptOut: sms.providerOptOut,
      });
      await tx.inboundPart.updateMany({
        where: { providerId, providerMessageId: { in: parts.map((part) => part.providerMessageId) } },
        data: { messageId: message.id },
      });
      return { kind: 'message', message };
    });
  }
}

type MessageFields = Pick<InboundSms, 'from' | 'to' | 'text' | 'receivedAt' | 'providerOptOut'> & {
  /** As stored: a joined message takes its parts' encoding. */
  readonly encoding: string;
  readonly parts: number;
};

/** The provider's own opt-out verdict, where it gave one, stands in for our classification. */
const PROVIDER_KEYWORDS = { STOP: 'opt_out', START: 'opt_in', HELP: 'help' } as const;

async function insertMessage(tx: Transaction, providerId: string, providerMessageId: string, fields: MessageFields): Promise<StoredInbound> {
  const id = inboundMessageId(providerId, providerMessageId);
  const owner = await tx.ownedNumber.findUnique({ where: { number: fields.to }, select: { accountId: true, providers: true, keyword: true } });
  const owned = owner && (owner.providers.length === 0 || owner.providers.includes(providerId)) ? owner : null;
  const accountId = owned?.accountId ?? null;
  const inserted = await tx.inboundMessage.createMany({
    data: [
      {
        id,
        providerId,
        providerMessageId,
        accountId,
        from: fields.from,
        to: fields.to,
        // The account's keyword on a shared short code routed it here; the sender's words follow it.
        text: fields.encoding === 'binary' ? fields.text : withoutSharedKeyword(fields.text, owned?.keyword ?? null),
        encoding: fields.encoding,
        country: countryOfNumber(fields.from),
        parts: fields.parts,
        keyword: fields.providerOptOut ? PROVIDER_KEYWORDS[fields.providerOptOut] : null,
        receivedAt: fields.receivedAt,
      },
    ],
    skipDuplicates: true,
  });
  if (inserted.count === 1) {
    // Delivered on commit: the forwarder starts its workflow at once rather than at its next poll.
    await tx.$executeRaw`SELECT pg_notify(${INBOX_CHANNEL}, ${INBOUND_NOTICE})`;
    return { id, accountId, from: fields.from, to: fields.to, created: true };
  }
  const existing = await tx.inboundMessage.findUniqueOrThrow({ where: { id }, select: { accountId: true, from: true, to: true } });
  return { id, ...existing, created: false };
}
