import { z } from 'zod';
import { DEMO_PROVIDERS } from '../dev/seed';
import { reportReady } from '../dev/supervision';
import { ProviderSimulator, type SimulatedProviderOptions } from './server';

const providersSchema = z.array(
  z.object({
    name: z.string().min(1),
    dialect: z.string().min(1),
    credentials: z.record(z.string(), z.string()),
    behaviour: z.record(z.string(), z.unknown()).optional(),
  }),
);

/**
 * The simulator on its own, as a provider would be: its own process and event loop.
 * SIMULATOR_PROVIDERS (JSON array of { name, dialect, credentials, behaviour? }) defaults to the demo's.
 */
async function run(): Promise<void> {
  const providers: readonly SimulatedProviderOptions[] = process.env.SIMULATOR_PROVIDERS
    ? (providersSchema.parse(JSON.parse(process.env.SIMULATOR_PROVIDERS)) as SimulatedProviderOptions[])
    : DEMO_PROVIDERS.map((provider) => ({ name: provider.id, dialect: provider.adapter, credentials: provider.credentials }));
  const simulator = new ProviderSimulator({ port: Number(process.env.SIMULATOR_PORT ?? 4010), providers });
  const url = await simulator.start();
  process.stdout.write(`simulator listening on ${url}\n`);
  const stop = () => void simulator.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  reportReady(stop);
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
