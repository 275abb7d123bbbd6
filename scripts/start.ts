/**
 * `npm start`: the whole router on this machine. Starts (or reuses) a Temporal dev server with its
 * state under .data/, applies the migrations to PostgreSQL, seeds the demo, and runs the provider
 * simulator, the workers and the REST API in this process. Ctrl-C stops everything it started.
 */
import { resolve } from 'node:path';
import { applyMigrations } from './migrate';
import { startApi } from '../src/api/main';
import { ConfigError, loadConfig } from '../src/config';
import { createDatabase } from '../src/db/client';
import { DEMO_API_KEY, DEMO_PROVIDERS, exportDemoCredentials, seedDemo } from '../src/dev/seed';
import { findTemporalCli } from '../src/dev/temporal-cli';
import { canConnect, startTemporalDevServer } from '../src/dev/temporal-server';
import { createLogger } from '../src/logger';
import { ProviderSimulator } from '../src/simulator/server';
import { startWorkers } from '../src/workers/main';
import { installTemporalRuntime } from '../src/workers/runtime';

const TEMPORAL_UI_PORT = Number(process.env.TEMPORAL_UI_PORT ?? 8233);

/** What this process started, stopped in reverse order on Ctrl-C or a failed start. */
const running: { name: string; stop: () => Promise<void> }[] = [];

async function stopAll(): Promise<void> {
  for (const entry of running.reverse()) {
    await entry.stop().catch((error: unknown) => console.error(`smsrouter: stopping ${entry.name} failed:`, error));
  }
  running.length = 0;
}

async function main(): Promise<void> {
  // The demo's client endpoints (a local webhook tester) live on loopback.
  const config = loadConfig({ CALLBACK_ALLOW_PRIVATE: 'true', ...process.env });
  installTemporalRuntime();
  const logger = createLogger(config.LOG_LEVEL, 'smsrouter');
  const say = (line: string) => process.stdout.write(`smsrouter: ${line}\n`);

  say(`applying database migrations to ${redact(config.DATABASE_URL)}`);
  try {
    await applyMigrations(config.DATABASE_URL, { log: (line) => say(line) });
  } catch (error) {
    if (isConnectionError(error)) {
      say(`PostgreSQL is not reachable at ${redact(config.DATABASE_URL)} (${describe(error)}); start it or set DATABASE_URL`);
      process.exit(1);
    }
    throw error;
  }

  const [host = '127.0.0.1', port = '7233'] = config.TEMPORAL_ADDRESS.split(':');
  if (await canConnect(Number(port), host)) {
    say(`using the Temporal server already listening on ${config.TEMPORAL_ADDRESS}`);
  } else {
    say('starting the Temporal dev server (state in .data/temporal.db)');
    const devServer = await startTemporalDevServer({
      binary: findTemporalCli(),
      port: Number(port),
      uiPort: TEMPORAL_UI_PORT,
      dbFile: resolve(__dirname, '../.data/temporal.db'),
    });
    running.push({ name: 'Temporal dev server', stop: () => devServer.stop() });
  }

  exportDemoCredentials();
  const simulator = new ProviderSimulator({
    port: config.SIMULATOR_PORT,
    providers: DEMO_PROVIDERS.map((provider) => ({ name: provider.id, dialect: provider.adapter, credentials: provider.credentials })),
  });
  await simulator.start();
  running.push({ name: 'simulator', stop: () => simulator.close() });
  const db = createDatabase(config.DATABASE_URL);
  await seedDemo(db, simulator.url);
  await db.$disconnect();

  const workers = await startWorkers(config, logger);
  running.push({ name: 'workers', stop: () => workers.shutdown() });
  const api = await startApi(config, logger);
  running.push({ name: 'API', stop: () => api.close() });

  say(`REST API         ${api.url}`);
  say(`metrics          ${api.opsUrl}/metrics`);
  say(`Temporal server  ${config.TEMPORAL_ADDRESS}`);
  say(`Temporal UI      http://127.0.0.1:${TEMPORAL_UI_PORT}`);
  say(`simulator        ${simulator.url} (providers: ${DEMO_PROVIDERS.map((p) => p.id).join(', ')}; stats at ${simulator.url}/_control/stats)`);
  say('ready. Send a message:');
  process.stdout.write(
    `\ncurl -s -X POST ${api.url}/v1/messages \\\n` +
      `  -H 'Authorization: Bearer ${DEMO_API_KEY}' -H 'Content-Type: application/json' \\\n` +
      `  -d '{"to":"+4520123456","from":"Acme","body":"Hello from smsrouter"}'\n\n` +
      `then: curl -s ${api.url}/v1/messages/<id> -H 'Authorization: Bearer ${DEMO_API_KEY}'\n\n`,
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('stopping');
    await stopAll();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function describe(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(describe).join(', ');
  return error instanceof Error ? error.message || error.name : String(error);
}

function isConnectionError(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  return ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', '28P01', '3D000'].includes(code);
}

main().catch(async (error: unknown) => {
  if (error instanceof ConfigError) console.error(`smsrouter: ${error.message}`);
  else console.error(error);
  await stopAll();
  process.exit(1);
});
