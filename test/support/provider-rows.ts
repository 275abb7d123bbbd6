import type { Database } from '../../src/db/client';

/** A provider row and its routes, as a test declares them. */
export interface ProviderRows {
  readonly id: string;
  readonly dialect: string;
  readonly routes: readonly { prefix: string; priority?: number; weight?: number }[];
  readonly tps?: number;
  readonly window?: number;
  readonly dlrTimeoutSeconds?: number;
  readonly deliveryGuarantee?: 'at_most_once' | 'at_least_once';
}

/** The environment variable a test provider's credentials live in. */
export function credentialsRefOf(providerId: string): string {
  return `SMSROUTER_CREDENTIALS_${providerId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export async function insertProvider(db: Database, provider: ProviderRows, baseUrl: string): Promise<void> {
  await db.provider.create({
    data: {
      id: provider.id,
      adapter: provider.dialect,
      baseUrl,
      credentialsRef: credentialsRefOf(provider.id),
      tps: provider.tps ?? 100,
      window: provider.window ?? 10,
      dlrTimeoutSeconds: provider.dlrTimeoutSeconds ?? 30,
      deliveryGuarantee: provider.deliveryGuarantee ?? 'at_most_once',
    },
  });
  await db.route.createMany({
    data: provider.routes.map((route, index) => ({
      id: `${provider.id}-${index}`,
      prefix: route.prefix,
      providerId: provider.id,
      priority: route.priority ?? 0,
      weight: route.weight ?? 1,
    })),
  });
}
