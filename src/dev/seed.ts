import { hashApiKey } from '../api/auth';
import type { Database } from '../db/client';

/** Demo account key printed by `npm start`; local use only. */
export const DEMO_API_KEY = 'demo-key';
export const DEMO_ACCOUNT_ID = 'demo';

export interface DemoProvider {
  readonly id: string;
  readonly adapter: string;
  readonly credentialsRef: string;
  readonly credentials: Readonly<Record<string, string>>;
  readonly tps: number;
  readonly window: number;
  readonly dlrTimeoutSeconds: number;
}

/** The simulated providers the demo routes through; the simulator mounts one per entry. */
export const DEMO_PROVIDERS: readonly DemoProvider[] = [
  {
    id: 'sim-generic',
    adapter: 'generic',
    credentialsRef: 'SMSROUTER_CREDENTIALS_SIM_GENERIC',
    credentials: { apiKey: 'sim-generic-key', dlrSecret: 'sim-generic-dlr-secret' },
    tps: 50,
    window: 20,
    dlrTimeoutSeconds: 60,
  },
];

/** Puts each demo provider's credentials where its credentialsRef points, unless already set. */
export function exportDemoCredentials(env: NodeJS.ProcessEnv = process.env): void {
  for (const provider of DEMO_PROVIDERS) env[provider.credentialsRef] ??= JSON.stringify(provider.credentials);
}

/** Idempotent: running it again leaves an existing demo setup as it is. */
export async function seedDemo(db: Database, simulatorUrl: string): Promise<void> {
  await db.account.upsert({ where: { id: DEMO_ACCOUNT_ID }, update: {}, create: { id: DEMO_ACCOUNT_ID, name: 'Demo account' } });
  await db.apiKey.upsert({
    where: { keyHash: hashApiKey(DEMO_API_KEY) },
    update: {},
    create: { id: 'demo-key', accountId: DEMO_ACCOUNT_ID, keyHash: hashApiKey(DEMO_API_KEY), label: 'demo' },
  });
  for (const provider of DEMO_PROVIDERS) {
    const fields = {
      adapter: provider.adapter,
      baseUrl: `${simulatorUrl}/${provider.id}`,
      credentialsRef: provider.credentialsRef,
      tps: provider.tps,
      window: provider.window,
      dlrTimeoutSeconds: provider.dlrTimeoutSeconds,
    };
    await db.provider.upsert({ where: { id: provider.id }, update: { baseUrl: fields.baseUrl }, create: { id: provider.id, ...fields } });
  }
  const [first] = DEMO_PROVIDERS;
  if (first && (await db.route.count()) === 0) {
    await db.route.create({ data: { id: 'demo-default', prefix: '*', providerId: first.id } });
  }
}
