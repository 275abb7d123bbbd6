import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { Prisma } from '../generated/prisma/client';
import { DELIVERY_GUARANTEES, PROVIDER_DEFAULTS, type providerDefinition, type routeDefinition } from './admin-schemas';
import type { RouteRule } from './route-table';

// Rows the routing admin service writes, and the bulk insert an import uses.

/** Routes per INSERT: bounds the size of one statement's arrays. */
const ROUTE_INSERT_CHUNK = 10_000;

export function providerRow(definition: z.output<typeof providerDefinition>): Prisma.ProviderCreateInput {
  return {
    id: definition.id,
    adapter: definition.adapter,
    baseUrl: definition.baseUrl,
    credentialsRef: definition.credentialsRef ?? null,
    tps: definition.tps,
    window: definition.window,
    pipelining: definition.pipelining ?? PROVIDER_DEFAULTS.pipelining,
    dlrTimeoutSeconds: definition.dlrTimeoutSeconds ?? PROVIDER_DEFAULTS.dlrTimeoutSeconds,
    deliveryGuarantee: DELIVERY_GUARANTEES[definition.deliveryGuarantee ?? PROVIDER_DEFAULTS.deliveryGuarantee],
    enabled: definition.enabled ?? PROVIDER_DEFAULTS.enabled,
  };
}

export interface RouteRow extends RouteRule {
  readonly price: number | null;
}

export function routeRow(definition: z.output<typeof routeDefinition>): RouteRow {
  return {
    id: randomUUID(),
    prefix: definition.prefix,
    providerId: definition.provider,
    accountId: definition.account ?? null,
    sender: definition.sender ?? null,
    priority: definition.priority ?? 0,
    weight: definition.weight ?? 1,
    price: definition.price ?? null,
  };
}

/**
 * One INSERT from unnest() per chunk. Prisma's createMany costs about 0.3 ms a route here: half a
 * minute for 100k routes, all of it inside the import's transaction; this takes a tenth of that.
 */
export async function insertRoutes(tx: Prisma.TransactionClient, rows: readonly RouteRow[]): Promise<void> {
  // What @updatedAt would set; the catalog's change check reads it.
  const now = new Date();
  for (let start = 0; start < rows.length; start += ROUTE_INSERT_CHUNK) {
    const chunk = rows.slice(start, start + ROUTE_INSERT_CHUNK);
    const column = <T>(pick: (row: RouteRow) => T): T[] => chunk.map(pick);
    await tx.$executeRaw`
      INSERT INTO "Route" ("id", "prefix", "accountId", "sender", "providerId", "priority", "weight", "price", "createdAt", "updatedAt")
      SELECT *, ${now}::timestamp(3), ${now}::timestamp(3) FROM unnest(
        ${column((row) => row.id)}::text[],
        ${column((row) => row.prefix)}::text[],
        ${column((row) => row.accountId)}::text[],
        ${column((row) => row.sender)}::text[],
        ${column((row) => row.providerId)}::text[],
        ${column((row) => row.priority)}::int[],
        ${column((row) => row.weight)}::int[],
        ${column((row) => (row.price === null ? null : String(row.price)))}::numeric[]
      )`;
  }
}
