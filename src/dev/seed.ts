import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { hashApiKey } from '../accounts/keys';
import type { Database } from '../db/client';
import { RoutingAdmin } from '../routing/admin';

/** Demo account key printed by `npm start`; local use only. */
export const DEMO_API_KEY = 'demo-key';
export const DEMO_ACCOUNT_ID = 'demo';

/** The demo account's own number: simulated replies to it reach the account's inbound webhook. */
export const DEMO_NUMBER = '+447700900000';

/** The routing table `npm start` loads into an empty database: four simulated providers. */
export const DEMO_ROUTING_FILE = resolve(__dirname, '../../examples/routing.yaml');

export interface DemoProvider {
  readonly id: string;
  /** The wire format, as the router's adapter and the simulator's dialect. */
  readonly adapter: string;
  readonly credentialsRef: string;
  readonly credentials: Readonly<Record<string, string>>;
}

/**
 * The simulated providers of the demo, one per wire format; the simulator mounts one per entry.
 * Their throughput, prices and routes are in examples/routing.yaml.
 */
export const DEMO_PROVIDERS: readonly DemoProvider[] = [
  {
    id: 'sim-generic',
    adapter: 'generic',
    credentialsRef: 'SMSROUTER_CREDENTIALS_SIM_GENERIC',
    credentials: { apiKey: 'sim-generic-key', dlrSecret: 'sim-generic-dlr-secret' },
  },
  {
    id: 'sim-vonage',
    adapter: 'vonage',
    credentialsRef: 'SMSROUTER_CREDENTIALS_SIM_VONAGE',
    credentials: { apiKey: 'simkey', apiSecret: 'simsecret', signatureSecret: 'sim-vonage-signature', signatureMethod: 'sha256' },
  },
  {
    id: 'sim-twilio',
    adapter: 'twilio',
    credentialsRef: 'SMSROUTER_CREDENTIALS_SIM_TWILIO',
    credentials: { accountSid: 'AC00000000000000000000000000000000', authToken: 'sim-twilio-token' },
  },
  {
    id: 'sim-gatewayapi',
    adapter: 'gatewayapi',
    credentialsRef: 'SMSROUTER_CREDENTIALS_SIM_GATEWAYAPI',
    credentials: { token: 'sim-gatewayapi-token', webhookSecret: 'sim-gatewayapi-webhook' },
  },
];

/** Puts each demo provider's credentials where its credentialsRef points, unless already set. */
export function exportDemoCredentials(env: NodeJS.ProcessEnv = process.env): void {
  for (const provider of DEMO_PROVIDERS) env[provider.credentialsRef] ??= JSON.stringify(provider.credentials);
}

/** The demo account and its API key. Idempotent. */
export async function seedDemoAccount(db: Database): Promise<void> {
  await db.account.upsert({ where: { id: DEMO_ACCOUNT_ID }, update: {}, create: { id: DEMO_ACCOUNT_ID, name: 'Demo account' } });
  await db.apiKey.upsert({
    where: { keyHash: hashApiKey(DEMO_API_KEY) },
    update: {},
    create: { id: 'demo-key', accountId: DEMO_ACCOUNT_ID, keyHash: hashApiKey(DEMO_API_KEY), label: 'demo' },
  });
  await db.ownedNumber.createMany({ data: [{ number: DEMO_NUMBER, accountId: DEMO_ACCOUNT_ID, providers: [] }], skipDuplicates: true });
}

/**
 * The demo account, and the example routing table when no route exists yet (a table an operator
 * changed is left alone). The providers' base URLs follow the simulator's actual address.
 */
export async function seedDemo(db: Database, simulatorUrl: string): Promise<void> {
  await seedDemoAccount(db);
  if ((await db.route.count()) === 0) {
    await new RoutingAdmin(db).importRoutingText(readFileSync(DEMO_ROUTING_FILE, 'utf8'), DEMO_ROUTING_FILE);
  }
  for (const provider of DEMO_PROVIDERS) {
    await db.provider.updateMany({ where: { id: provider.id }, data: { baseUrl: `${simulatorUrl}/${provider.id}` } });
  }
}
